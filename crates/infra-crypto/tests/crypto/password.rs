use std::time::Duration;

use argon2::password_hash::{PasswordHasher as _, SaltString};
use tessera_application::Error;
use tessera_application::ports::{PasswordCheck, PasswordHasher};
use tessera_domain::{Password, PasswordHash};
use tessera_infra_crypto::{Argon2Params, Argon2PasswordHasher, PasswordHashingSettings};

/// Cheap parameters: these tests are about the logic, not the cost.
const SMALL: Argon2Params = Argon2Params {
    memory_kib: 256,
    iterations: 1,
    parallelism: 1,
};

fn hasher(params: Argon2Params) -> Argon2PasswordHasher {
    Argon2PasswordHasher::new(PasswordHashingSettings {
        params,
        ..PasswordHashingSettings::default()
    })
    .unwrap()
}

fn password(text: &str) -> Password {
    Password::new(text).unwrap()
}

#[tokio::test]
async fn a_hashed_password_verifies_as_a_match() {
    let hasher = hasher(SMALL);
    let hash = hasher.hash(&password("correct horse")).await.unwrap();
    let check = hasher.verify(&password("correct horse"), Some(hash)).await;
    assert_eq!(check.unwrap(), PasswordCheck::Match);
}

#[tokio::test]
async fn the_hash_is_an_argon2id_phc_string_with_the_configured_parameters() {
    let hash = hasher(SMALL)
        .hash(&password("correct horse"))
        .await
        .unwrap();
    assert!(
        hash.as_str().starts_with("$argon2id$v=19$m=256,t=1,p=1$"),
        "{}",
        hash.as_str()
    );
}

#[tokio::test]
async fn the_same_password_hashes_differently_each_time() {
    let hasher = hasher(SMALL);
    let a = hasher.hash(&password("correct horse")).await.unwrap();
    let b = hasher.hash(&password("correct horse")).await.unwrap();
    assert_ne!(a, b);
}

#[tokio::test]
async fn a_wrong_password_is_a_mismatch() {
    let hasher = hasher(SMALL);
    let hash = hasher.hash(&password("correct horse")).await.unwrap();
    let check = hasher.verify(&password("correct horsE"), Some(hash)).await;
    assert_eq!(check.unwrap(), PasswordCheck::Mismatch);
}

#[tokio::test]
async fn an_unknown_account_is_a_mismatch() {
    let check = hasher(SMALL).verify(&password("correct horse"), None).await;
    assert_eq!(check.unwrap(), PasswordCheck::Mismatch);
}

#[tokio::test]
async fn a_hash_made_with_weaker_parameters_needs_a_rehash() {
    let weak = hasher(SMALL)
        .hash(&password("correct horse"))
        .await
        .unwrap();
    for stronger in [
        Argon2Params {
            memory_kib: 512,
            ..SMALL
        },
        Argon2Params {
            iterations: 2,
            ..SMALL
        },
        Argon2Params {
            parallelism: 2,
            ..SMALL
        },
    ] {
        let check = hasher(stronger)
            .verify(&password("correct horse"), Some(weak.clone()))
            .await;
        assert_eq!(
            check.unwrap(),
            PasswordCheck::MatchNeedsRehash,
            "{stronger:?}"
        );
    }
    let wrong = hasher(Argon2Params {
        memory_kib: 512,
        ..SMALL
    })
    .verify(&password("wrong horse"), Some(weak))
    .await;
    assert_eq!(wrong.unwrap(), PasswordCheck::Mismatch);
}

#[tokio::test]
async fn a_hash_of_another_argon2_variant_or_length_needs_a_rehash() {
    let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0c2FsdA").unwrap();
    let params = argon2::Params::new(256, 1, 1, None).unwrap();
    let argon2i = argon2::Argon2::new(argon2::Algorithm::Argon2i, argon2::Version::V0x13, params);
    let long_params = argon2::Params::new(256, 1, 1, Some(64)).unwrap();
    let long = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        long_params,
    );
    let old_version = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x10,
        argon2::Params::new(256, 1, 1, None).unwrap(),
    );
    for argon2 in [argon2i, long, old_version] {
        let phc = argon2
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        let check = hasher(SMALL)
            .verify(
                &password("correct horse"),
                Some(PasswordHash::new(phc.clone())),
            )
            .await;
        assert_eq!(check.unwrap(), PasswordCheck::MatchNeedsRehash, "{phc}");
    }
}

#[tokio::test]
async fn a_garbage_stored_hash_is_a_mismatch_not_an_error() {
    let hasher = hasher(SMALL);
    let real = hasher.hash(&password("correct horse")).await.unwrap();
    let without_output = real.as_str().rsplit_once('$').unwrap().0.to_owned();
    let garbage = [
        String::new(),
        "garbage".to_owned(),
        "correct horse".to_owned(),
        without_output,
        real.as_str().replace("argon2id", "argon3"),
        real.as_str().replace("v=19", "v=99"),
        real.as_str().replace("m=256", "m=1"),
        real.as_str().replace("m=256", "m=x"),
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW".to_owned(),
        "$pbkdf2-sha256$i=1000$c2FsdA$aGFzaA".to_owned(),
        "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$".to_owned(),
    ];
    for stored in garbage {
        let check = hasher
            .verify(
                &password("correct horse"),
                Some(PasswordHash::new(stored.clone())),
            )
            .await;
        assert_eq!(check.unwrap(), PasswordCheck::Mismatch, "{stored}");
    }
}

#[tokio::test]
async fn the_default_parameters_are_owasps_and_round_trip() {
    assert_eq!(
        Argon2Params::default(),
        Argon2Params {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1
        }
    );
    let hasher = hasher(Argon2Params::default());
    let hash = hasher.hash(&password("correct horse")).await.unwrap();
    assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    let check = hasher.verify(&password("correct horse"), Some(hash)).await;
    assert_eq!(check.unwrap(), PasswordCheck::Match);
}

#[tokio::test]
async fn a_saturated_pool_answers_unavailable() {
    let hasher = Argon2PasswordHasher::new(PasswordHashingSettings {
        // Slow enough that the first hashes still hold both slots.
        params: Argon2Params {
            memory_kib: 65_536,
            iterations: 3,
            parallelism: 1,
        },
        max_concurrent: 1,
        max_wait: Duration::ZERO,
    })
    .unwrap();
    let pw = password("correct horse");
    // One slot per hashing thread, plus the rescuer's.
    let (first, second, third) = tokio::join!(hasher.hash(&pw), hasher.hash(&pw), hasher.hash(&pw));
    assert!(first.is_ok());
    assert!(second.is_ok());
    assert!(matches!(third, Err(Error::Unavailable(_))), "{third:?}");
    // The slot is free again afterwards.
    assert!(hasher.hash(&pw).await.is_ok());
}

#[test]
fn bad_settings_are_refused_by_name() {
    let cases = [
        (
            Argon2Params {
                parallelism: 0,
                ..SMALL
            },
            1,
            "password_hash_parallelism",
        ),
        (
            Argon2Params {
                parallelism: u32::MAX,
                ..SMALL
            },
            1,
            "password_hash_parallelism",
        ),
        (
            Argon2Params {
                memory_kib: 4,
                ..SMALL
            },
            1,
            "password_hash_params",
        ),
        (
            Argon2Params {
                iterations: 0,
                ..SMALL
            },
            1,
            "password_hash_params",
        ),
        (SMALL, 0, "password_hash_concurrency"),
    ];
    for (params, max_concurrent, setting) in cases {
        let error = Argon2PasswordHasher::new(PasswordHashingSettings {
            params,
            max_concurrent,
            max_wait: Duration::from_secs(1),
        })
        .unwrap_err();
        assert_eq!(error.setting(), setting, "{params:?}");
    }
}

/// `(name, nice, scheduling policy)` of this process's password hashing threads, from
/// `/proc/self/task/*/stat` (fields 19 and 41; 5 is `SCHED_IDLE`).
#[cfg(target_os = "linux")]
fn hashing_threads() -> Vec<(String, i64, u32)> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let Ok(stat) = std::fs::read_to_string(task.unwrap().path().join("stat")) else {
            continue; // the thread ended meanwhile
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        if !name.starts_with("tessera-hash-") {
            continue;
        }
        // After the name: field 3 (state) onwards.
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        threads.push((
            name.to_owned(),
            fields[19 - 3].parse().unwrap(),
            fields[41 - 3].parse().unwrap(),
        ));
    }
    threads
}

/// The hashing threads take the CPU only when nothing else wants it (`SCHED_IDLE`), and
/// the rescuer, which steps in when they starve, runs at nice 10.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn hashing_threads_run_when_the_cpu_is_idle_and_the_rescuer_at_nice_10() {
    const SCHED_OTHER: u32 = 0;
    const SCHED_IDLE: u32 = 5;
    let hasher = Argon2PasswordHasher::new(PasswordHashingSettings {
        params: SMALL,
        max_concurrent: 2,
        max_wait: Duration::from_secs(5),
    })
    .unwrap();
    hasher.hash(&password("correct horse")).await.unwrap();
    // Other tests in this binary start hashers too, whose threads may be named but not
    // yet have set their priority: every thread of each kind must get there.
    let settled = |threads: &[(String, i64, u32)]| {
        let idle = threads.iter().filter(|(name, ..)| !name.ends_with("-r"));
        let rescuers = threads.iter().filter(|(name, ..)| name.ends_with("-r"));
        idle.clone().count() >= 2
            && rescuers.clone().count() >= 1
            && idle.into_iter().all(|(_, _, policy)| *policy == SCHED_IDLE)
            && rescuers
                .into_iter()
                .all(|(_, nice, policy)| *policy == SCHED_OTHER && *nice == 10)
    };
    let mut threads = hashing_threads();
    for _ in 0..100 {
        if settled(&threads) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        threads = hashing_threads();
    }
    assert!(settled(&threads), "{threads:?}");
}

/// While other threads keep every CPU busy, the idle-policy threads get next to nothing
/// (a hash would take tens of seconds); the rescuer takes a waiting hash after 250 ms
/// and finishes it at nice 10's share. Generous bound: this is about liveness.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_go_on_while_other_work_saturates_every_cpu() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let hasher = Argon2PasswordHasher::new(PasswordHashingSettings {
        params: Argon2Params::default(),
        max_concurrent: 1,
        max_wait: Duration::from_secs(30),
    })
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let spinners: Vec<_> = (0..cpus * 4)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    let started = std::time::Instant::now();
    let pw = password("correct horse");
    // One hash may land on the starved idle-policy thread; the other waits, and the
    // rescuer takes it.
    let first_done = tokio::select! {
        done = hasher.hash(&pw) => done,
        done = hasher.hash(&pw) => done,
    };
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    for spinner in spinners {
        spinner.join().unwrap();
    }
    assert!(first_done.is_ok());
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
}
