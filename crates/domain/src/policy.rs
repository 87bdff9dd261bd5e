//! The configurable session policy (SPEC §2) and its validation.

use std::fmt;

use chrono::TimeDelta;

/// What to do when a refresh comes from another IP address than the session's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IpChangePolicy {
    /// Accept it silently.
    #[default]
    Allow,
    /// Accept it, and let the audit trail say so.
    Audit,
    /// Refuse it with `client_mismatch`.
    Deny,
}

impl IpChangePolicy {
    /// The configuration spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Audit => "audit",
            Self::Deny => "deny",
        }
    }
}

impl std::str::FromStr for IpChangePolicy {
    type Err = InvalidSetting;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "allow" => Ok(Self::Allow),
            "audit" => Ok(Self::Audit),
            "deny" => Ok(Self::Deny),
            _ => Err(InvalidSetting::new(
                "ip_change",
                "must be one of allow, audit, deny",
            )),
        }
    }
}

/// A setting that cannot be used, named so an operator can find it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct InvalidSetting {
    setting: &'static str,
    reason: String,
}

impl InvalidSetting {
    /// `reason` completes a sentence that starts with the setting's name.
    pub fn new(setting: &'static str, reason: impl Into<String>) -> Self {
        Self {
            setting,
            reason: reason.into(),
        }
    }

    /// The name of the offending setting, as in the configuration file.
    pub const fn setting(&self) -> &'static str {
        self.setting
    }
}

impl fmt::Display for InvalidSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.setting, self.reason)
    }
}

/// Unvalidated policy values, as read from configuration. `Default` gives SPEC §2's
/// defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPolicySettings {
    pub access_ttl: TimeDelta,
    pub idle_timeout: TimeDelta,
    pub absolute_lifetime: TimeDelta,
    pub reuse_grace: TimeDelta,
    pub bind_user_agent: bool,
    pub ip_change: IpChangePolicy,
}

impl Default for SessionPolicySettings {
    fn default() -> Self {
        Self {
            access_ttl: TimeDelta::minutes(15),
            idle_timeout: TimeDelta::days(7),
            absolute_lifetime: TimeDelta::days(30),
            reuse_grace: TimeDelta::seconds(10),
            bind_user_agent: false,
            ip_change: IpChangePolicy::Allow,
        }
    }
}

/// A validated session policy: every lifetime in Tessera comes from here.
/// `Default` is SPEC §2's defaults, which are valid.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionPolicy {
    settings: SessionPolicySettings,
}

impl SessionPolicy {
    /// Lifetime of an access token.
    pub const fn access_ttl(&self) -> TimeDelta {
        self.settings.access_ttl
    }

    /// Refresh is refused when the last activity is this old or older.
    pub const fn idle_timeout(&self) -> TimeDelta {
        self.settings.idle_timeout
    }

    /// No refresh at or past `created_at + absolute_lifetime`.
    pub const fn absolute_lifetime(&self) -> TimeDelta {
        self.settings.absolute_lifetime
    }

    /// How long a replay of a rotated token is taken for a concurrent duplicate.
    pub const fn reuse_grace(&self) -> TimeDelta {
        self.settings.reuse_grace
    }

    /// Whether a refresh must come with the session's User-Agent.
    pub const fn bind_user_agent(&self) -> bool {
        self.settings.bind_user_agent
    }

    /// What an IP change at refresh does.
    pub const fn ip_change(&self) -> IpChangePolicy {
        self.settings.ip_change
    }

    /// Whether a signing key retired at `retired_at` may still be needed at `now`: a
    /// token it signed just before retirement lives `access_ttl`, and is accepted for
    /// `clock_leeway` more. From `retired_at + access_ttl + clock_leeway` on, no live
    /// token can carry its `kid`, so it leaves the JWKS and the verification set.
    pub fn retired_key_still_verifies(
        &self,
        retired_at: crate::Instant,
        clock_leeway: TimeDelta,
        now: crate::Instant,
    ) -> bool {
        retired_at
            .checked_add_signed(self.access_ttl())
            .and_then(|end| end.checked_add_signed(clock_leeway))
            .is_none_or(|end| now < end)
    }
}

impl TryFrom<SessionPolicySettings> for SessionPolicy {
    type Error = InvalidSetting;

    fn try_from(settings: SessionPolicySettings) -> Result<Self, Self::Error> {
        let positive = [
            ("access_ttl", settings.access_ttl),
            ("idle_timeout", settings.idle_timeout),
            ("absolute_lifetime", settings.absolute_lifetime),
        ];
        for (name, value) in positive {
            if value <= TimeDelta::zero() {
                return Err(InvalidSetting::new(name, "must be longer than zero"));
            }
        }
        if settings.reuse_grace < TimeDelta::zero() {
            return Err(InvalidSetting::new("reuse_grace", "must not be negative"));
        }
        if settings.access_ttl >= settings.idle_timeout {
            return Err(InvalidSetting::new(
                "access_ttl",
                "must be shorter than idle_timeout",
            ));
        }
        if settings.idle_timeout > settings.absolute_lifetime {
            return Err(InvalidSetting::new(
                "idle_timeout",
                "must not be longer than absolute_lifetime",
            ));
        }
        // A duplicate inside the grace window is answered with the access token the
        // first request got; that token must still be worth something.
        if settings.reuse_grace >= settings.access_ttl {
            return Err(InvalidSetting::new(
                "reuse_grace",
                "must be shorter than access_ttl",
            ));
        }
        Ok(Self { settings })
    }
}

#[cfg(test)]
mod retired_key_tests {
    use chrono::{TimeZone as _, Utc};

    use super::*;

    #[test]
    fn a_retired_key_verifies_until_access_ttl_plus_leeway_after_retirement() {
        let policy = SessionPolicy::default();
        let leeway = TimeDelta::seconds(30);
        let retired = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let end = retired + policy.access_ttl() + leeway;
        assert!(policy.retired_key_still_verifies(retired, leeway, retired));
        assert!(policy.retired_key_still_verifies(
            retired,
            leeway,
            end - TimeDelta::microseconds(1)
        ));
        assert!(!policy.retired_key_still_verifies(retired, leeway, end));
        assert!(!policy.retired_key_still_verifies(retired, leeway, end + TimeDelta::days(1)));
        // Without leeway the key goes when the last token it signed expires.
        let no_leeway = retired + policy.access_ttl();
        assert!(!policy.retired_key_still_verifies(retired, TimeDelta::zero(), no_leeway));
    }
}
