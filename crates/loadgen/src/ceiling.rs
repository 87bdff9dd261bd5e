//! Two of the three ceilings: a minimal actix-web server with no auth work (the HTTP
//! ceiling for `verify` and `me`) and raw Argon2id hashing on every core (the
//! ceiling for `login`). The database ceiling is in [`crate::sql`].

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use argon2::{Algorithm, Argon2, Params, Version};

/// What the ceiling handler answers: a small JSON body, no work.
async fn answer() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .content_type("application/json")
        .body(r#"{"user":{"id":"ceiling"},"session":null}"#)
}

/// Serves `GET /v1/auth/me`, `GET /v1/auth/verify` and `GET /healthz` with
/// [`answer`] until killed. Like `tessera serve` it leaves the worker count at
/// actix-web's default (one per CPU). Prints the bound address on stdout.
///
/// # Errors
/// The address cannot be bound.
pub fn serve(bind: SocketAddr) -> std::io::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(|| {
            App::new()
                .route("/v1/auth/me", web::get().to(answer))
                .route("/v1/auth/verify", web::get().to(answer))
                .route("/healthz", web::get().to(answer))
        })
        .bind(bind)?;
        let address = server
            .addrs()
            .first()
            .copied()
            .ok_or_else(|| std::io::Error::other("bound to no address"))?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{address}")?;
        stdout.flush()?;
        drop(stdout);
        server.run().await
    })
}

/// Argon2id hashes per second at `params` with `threads` threads hashing in a loop
/// for `duration` (one password verification costs one hash).
///
/// # Errors
/// Invalid parameters, or a hashing thread failed.
pub fn argon2_hashes_per_second(
    params: Params,
    threads: usize,
    duration: Duration,
) -> Result<f64, String> {
    let argon2 = Arc::new(Argon2::new(Algorithm::Argon2id, Version::V0x13, params));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads.max(1))
        .map(|thread| {
            let (argon2, stop, done) = (argon2.clone(), stop.clone(), done.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let password = format!("correct horse battery staple {thread}");
                let salt = *b"tessera-bench-salt-16";
                let mut output = [0_u8; 32];
                while !stop.load(Ordering::Relaxed) {
                    argon2
                        .hash_password_into(password.as_bytes(), &salt, &mut output)
                        .map_err(|error| error.to_string())?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    // Hashes that finish after the stop count, over the time they took.
    for worker in workers {
        worker
            .join()
            .map_err(|_| "an Argon2 thread panicked".to_owned())??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(done.load(Ordering::Relaxed) as f64 / elapsed)
}
