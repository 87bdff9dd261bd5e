//! Legacy access tokens (SPEC §3): HS256 JWTs signed by the former secret
//! (`legacy_jwt_secret`) and carrying no `sid`. Accepted until their own `exp` during a
//! migration; never refreshable.

use std::fmt;

use chrono::TimeDelta;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tessera_application::AccessDenial;
use tessera_application::ports::{LegacyClaims, LegacyTokenVerifier};
use tessera_domain::{Instant, InvalidSetting};

/// Same bound as for our own tokens: a longer string is not a token.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// [`LegacyTokenVerifier`] with the former HS256 secret.
pub struct HmacLegacyTokenVerifier {
    key: DecodingKey,
    leeway: TimeDelta,
}

impl fmt::Debug for HmacLegacyTokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacLegacyTokenVerifier")
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

impl HmacLegacyTokenVerifier {
    /// # Errors
    /// `InvalidSetting` on `legacy_jwt_secret` when it is empty.
    pub fn new(secret: &[u8], leeway: TimeDelta) -> Result<Self, InvalidSetting> {
        if secret.is_empty() {
            return Err(InvalidSetting::new(
                "legacy_jwt_secret",
                "must not be empty",
            ));
        }
        Ok(Self {
            key: DecodingKey::from_secret(secret),
            leeway,
        })
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
    /// Present only in Tessera's own tokens: such a token is never legacy.
    sid: Option<serde_json::Value>,
}

impl LegacyTokenVerifier for HmacLegacyTokenVerifier {
    fn verify(&self, token: &str, now: Instant) -> Result<LegacyClaims, AccessDenial> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AccessDenial::Invalid);
        }
        // Pinned to HS256; time is checked below against `now`, not jsonwebtoken's clock.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims = ["exp", "sub"].iter().map(|c| (*c).to_owned()).collect();
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &validation)
            .map_err(|_| AccessDenial::Invalid)?
            .claims;
        if claims.sid.is_some() {
            return Err(AccessDenial::Invalid);
        }
        let expires_at =
            chrono::DateTime::from_timestamp(claims.exp, 0).ok_or(AccessDenial::Invalid)?;
        // Checked: a forged `exp` near the end of time must not overflow.
        if expires_at
            .checked_add_signed(self.leeway)
            .is_none_or(|end| now >= end)
        {
            return Err(AccessDenial::Expired);
        }
        Ok(LegacyClaims {
            user_id: claims
                .sub
                .parse()
                .map_err(|_: uuid::Error| AccessDenial::Invalid)?,
            expires_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    use super::*;

    const SECRET: &[u8] = b"the secret of the old system";
    const USER: &str = "0195a0b4-6c1e-7000-8000-000000000001";

    fn now() -> Instant {
        Utc.timestamp_opt(1_800_000_000, 0).single().unwrap()
    }

    fn sign(claims: serde_json::Value, alg: Algorithm, secret: &[u8]) -> String {
        encode(
            &Header::new(alg),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    fn verifier() -> HmacLegacyTokenVerifier {
        HmacLegacyTokenVerifier::new(SECRET, TimeDelta::zero()).unwrap()
    }

    #[test]
    fn a_legacy_token_is_accepted_until_its_own_exp() {
        let exp = now().timestamp() + 60;
        let token = sign(
            json!({"sub": USER, "exp": exp, "roles": ["user"]}),
            Algorithm::HS256,
            SECRET,
        );
        let claims = verifier().verify(&token, now()).unwrap();
        assert_eq!(claims.user_id, USER.parse().unwrap());
        assert_eq!(
            verifier().verify(&token, now() + TimeDelta::seconds(60)),
            Err(AccessDenial::Expired)
        );
    }

    #[test]
    fn tokens_with_a_session_another_secret_or_algorithm_are_not_legacy() {
        let exp = now().timestamp() + 60;
        let with_sid = sign(
            json!({"sub": USER, "exp": exp, "sid": USER}),
            Algorithm::HS256,
            SECRET,
        );
        let other_secret = sign(
            json!({"sub": USER, "exp": exp}),
            Algorithm::HS256,
            b"another secret",
        );
        let hs512 = sign(json!({"sub": USER, "exp": exp}), Algorithm::HS512, SECRET);
        let not_a_uuid = sign(
            json!({"sub": "alice", "exp": exp}),
            Algorithm::HS256,
            SECRET,
        );
        let no_exp = sign(json!({"sub": USER}), Algorithm::HS256, SECRET);
        for token in [
            with_sid,
            other_secret,
            hs512,
            not_a_uuid,
            no_exp,
            "garbage".to_owned(),
        ] {
            assert_eq!(
                verifier().verify(&token, now()),
                Err(AccessDenial::Invalid),
                "{token}"
            );
        }
    }

    #[test]
    fn an_exp_at_the_end_of_time_is_refused_not_a_panic() {
        let token = sign(
            json!({"sub": USER, "exp": 8_210_266_876_799_i64}),
            Algorithm::HS256,
            SECRET,
        );
        let leeway = HmacLegacyTokenVerifier::new(SECRET, TimeDelta::seconds(30)).unwrap();
        assert!(leeway.verify(&token, now()).is_err());
    }

    #[test]
    fn an_empty_secret_is_refused_and_debug_hides_the_key() {
        assert_eq!(
            HmacLegacyTokenVerifier::new(b"", TimeDelta::zero())
                .unwrap_err()
                .setting(),
            "legacy_jwt_secret"
        );
        assert!(!format!("{:?}", verifier()).contains("secret of the old"));
    }
}
