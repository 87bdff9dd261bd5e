//! Policy settings (SPEC §2 table): the defaults, validation with errors that name the
//! setting, and the stored spellings of `IpChangePolicy` and `RevocationReason`.

use proptest::prelude::*;
use tessera_domain::{
    InvalidSetting, IpChangePolicy, RevocationReason, SessionPolicy, SessionPolicySettings,
    TimeDelta,
};

fn defaults_with(edit: impl FnOnce(&mut SessionPolicySettings)) -> SessionPolicySettings {
    let mut settings = SessionPolicySettings::default();
    edit(&mut settings);
    settings
}

fn refused(settings: SessionPolicySettings) -> InvalidSetting {
    match SessionPolicy::try_from(settings) {
        Err(error) => error,
        Ok(policy) => panic!("expected the settings to be refused, got {policy:?}"),
    }
}

/// Asserts the refusal names `setting`, both in `setting()` and at the start of its
/// message, and returns the message.
fn assert_names(error: &InvalidSetting, setting: &str) -> String {
    let message = error.to_string();
    assert_eq!(error.setting(), setting, "{message}");
    assert!(
        message.starts_with(&format!("{setting} ")),
        "message {message:?} should start with {setting:?}"
    );
    message
}

// ---------------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------------

#[test]
fn default_settings_are_the_spec_defaults() {
    assert_eq!(
        SessionPolicySettings::default(),
        SessionPolicySettings {
            access_ttl: TimeDelta::minutes(15),
            idle_timeout: TimeDelta::days(7),
            absolute_lifetime: TimeDelta::days(30),
            reuse_grace: TimeDelta::seconds(10),
            bind_user_agent: false,
            ip_change: IpChangePolicy::Allow,
        }
    );
}

#[test]
fn default_settings_validate_into_the_default_policy() {
    let policy = SessionPolicy::try_from(SessionPolicySettings::default());
    assert_eq!(policy, Ok(SessionPolicy::default()));
}

#[test]
fn a_validated_policy_reports_the_settings_it_was_built_from() {
    let settings = SessionPolicySettings {
        access_ttl: TimeDelta::seconds(90),
        idle_timeout: TimeDelta::hours(2),
        absolute_lifetime: TimeDelta::hours(12),
        reuse_grace: TimeDelta::seconds(3),
        bind_user_agent: true,
        ip_change: IpChangePolicy::Deny,
    };
    let policy = SessionPolicy::try_from(settings).expect("valid settings");
    assert_eq!(policy.access_ttl(), TimeDelta::seconds(90));
    assert_eq!(policy.idle_timeout(), TimeDelta::hours(2));
    assert_eq!(policy.absolute_lifetime(), TimeDelta::hours(12));
    assert_eq!(policy.reuse_grace(), TimeDelta::seconds(3));
    assert!(policy.bind_user_agent());
    assert_eq!(policy.ip_change(), IpChangePolicy::Deny);
}

// ---------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------

#[test]
fn zero_or_negative_lifetimes_are_refused_by_name() {
    type Field = fn(&mut SessionPolicySettings) -> &mut TimeDelta;
    let fields: [(&str, Field); 3] = [
        ("access_ttl", |s| &mut s.access_ttl),
        ("idle_timeout", |s| &mut s.idle_timeout),
        ("absolute_lifetime", |s| &mut s.absolute_lifetime),
    ];
    for (name, field) in fields {
        for value in [
            TimeDelta::zero(),
            TimeDelta::seconds(-1),
            TimeDelta::days(-30),
        ] {
            let error = refused(defaults_with(|s| *field(s) = value));
            let message = assert_names(&error, name);
            assert_eq!(message, format!("{name} must be longer than zero"));
        }
    }
}

#[test]
fn access_ttl_equal_to_idle_timeout_is_refused() {
    let error = refused(defaults_with(|s| s.access_ttl = s.idle_timeout));
    assert_names(&error, "access_ttl");
    assert_eq!(
        error.to_string(),
        "access_ttl must be shorter than idle_timeout"
    );
}

#[test]
fn access_ttl_longer_than_idle_timeout_is_refused() {
    let error = refused(defaults_with(|s| {
        s.idle_timeout = TimeDelta::minutes(10);
        s.access_ttl = TimeDelta::minutes(11);
    }));
    assert_eq!(
        error.to_string(),
        "access_ttl must be shorter than idle_timeout"
    );
}

#[test]
fn access_ttl_one_microsecond_shorter_than_idle_timeout_is_accepted() {
    let settings = defaults_with(|s| s.access_ttl = s.idle_timeout - TimeDelta::microseconds(1));
    assert!(SessionPolicy::try_from(settings).is_ok());
}

#[test]
fn idle_timeout_longer_than_absolute_lifetime_is_refused() {
    let error = refused(defaults_with(|s| {
        s.idle_timeout = s.absolute_lifetime + TimeDelta::microseconds(1);
    }));
    assert_names(&error, "idle_timeout");
    assert!(error.to_string().contains("absolute_lifetime"), "{error}");
}

#[test]
fn idle_timeout_equal_to_absolute_lifetime_is_accepted() {
    let settings = defaults_with(|s| s.idle_timeout = s.absolute_lifetime);
    assert!(SessionPolicy::try_from(settings).is_ok());
}

#[test]
fn reuse_grace_as_long_as_access_ttl_is_refused() {
    let error = refused(defaults_with(|s| s.reuse_grace = s.access_ttl));
    assert_names(&error, "reuse_grace");
    assert!(error.to_string().contains("access_ttl"), "{error}");
}

#[test]
fn reuse_grace_longer_than_access_ttl_is_refused() {
    let error = refused(defaults_with(|s| {
        s.reuse_grace = s.access_ttl + TimeDelta::seconds(1);
    }));
    assert_names(&error, "reuse_grace");
}

#[test]
fn negative_reuse_grace_is_refused() {
    let error = refused(defaults_with(|s| {
        s.reuse_grace = TimeDelta::microseconds(-1);
    }));
    let message = assert_names(&error, "reuse_grace");
    assert_eq!(message, "reuse_grace must not be negative");
}

#[test]
fn zero_reuse_grace_is_accepted() {
    let settings = defaults_with(|s| s.reuse_grace = TimeDelta::zero());
    let policy = SessionPolicy::try_from(settings).expect("zero grace is valid");
    assert_eq!(policy.reuse_grace(), TimeDelta::zero());
}

#[test]
fn an_invalid_setting_built_by_hand_keeps_its_name_and_reason() {
    let error = InvalidSetting::new("ip_change", "must be one of allow, audit, deny");
    assert_eq!(error.setting(), "ip_change");
    assert_eq!(
        error.to_string(),
        "ip_change must be one of allow, audit, deny"
    );
}

/// Durations in milliseconds between -1 s and 2 h, with the edges likely.
fn duration() -> impl Strategy<Value = TimeDelta> {
    prop_oneof![
        1 => Just(TimeDelta::zero()),
        1 => Just(TimeDelta::milliseconds(-1)),
        8 => (-1_000i64..=7_200_000).prop_map(TimeDelta::milliseconds),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn validation_accepts_exactly_the_settings_that_satisfy_every_constraint(
        access_ttl in duration(),
        idle_timeout in duration(),
        absolute_lifetime in duration(),
        reuse_grace in duration(),
    ) {
        let settings = SessionPolicySettings {
            access_ttl,
            idle_timeout,
            absolute_lifetime,
            reuse_grace,
            ..SessionPolicySettings::default()
        };
        let zero = TimeDelta::zero();
        let valid = access_ttl > zero
            && idle_timeout > zero
            && absolute_lifetime > zero
            && reuse_grace >= zero
            && access_ttl < idle_timeout
            && idle_timeout <= absolute_lifetime
            && reuse_grace < access_ttl;
        match SessionPolicy::try_from(settings) {
            Ok(_) => prop_assert!(valid, "accepted invalid settings"),
            Err(error) => {
                prop_assert!(!valid, "refused valid settings: {}", error);
                let names = ["access_ttl", "idle_timeout", "absolute_lifetime", "reuse_grace"];
                prop_assert!(names.contains(&error.setting()));
                prop_assert!(error.to_string().starts_with(error.setting()));
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// IpChangePolicy
// ---------------------------------------------------------------------------------

#[test]
fn ip_change_defaults_to_allow() {
    assert_eq!(IpChangePolicy::default(), IpChangePolicy::Allow);
}

#[test]
fn ip_change_parses_its_three_spellings() {
    assert_eq!("allow".parse(), Ok(IpChangePolicy::Allow));
    assert_eq!("audit".parse(), Ok(IpChangePolicy::Audit));
    assert_eq!("deny".parse(), Ok(IpChangePolicy::Deny));
}

#[test]
fn ip_change_parsing_ignores_case_and_surrounding_space() {
    assert_eq!(" Deny ".parse(), Ok(IpChangePolicy::Deny));
    assert_eq!("AUDIT".parse(), Ok(IpChangePolicy::Audit));
}

#[test]
fn ip_change_spelling_round_trips() {
    for policy in [
        IpChangePolicy::Allow,
        IpChangePolicy::Audit,
        IpChangePolicy::Deny,
    ] {
        assert_eq!(policy.as_str().parse(), Ok(policy));
    }
}

#[test]
fn an_unknown_ip_change_is_refused_by_name() {
    for raw in ["", "block", "allow,deny", "al low"] {
        let error = raw
            .parse::<IpChangePolicy>()
            .expect_err("not an ip_change spelling");
        let message = assert_names(&error, "ip_change");
        assert!(message.contains("allow, audit, deny"), "{message}");
    }
}

// ---------------------------------------------------------------------------------
// RevocationReason
// ---------------------------------------------------------------------------------

#[test]
fn revocation_reasons_have_their_stored_spellings() {
    let expected = [
        (RevocationReason::Logout, "logout"),
        (RevocationReason::LogoutAll, "logout_all"),
        (RevocationReason::Admin, "admin"),
        (RevocationReason::PasswordChange, "password_change"),
        (RevocationReason::Reuse, "reuse"),
        (RevocationReason::UserDisabled, "user_disabled"),
    ];
    for (reason, spelling) in expected {
        assert_eq!(reason.as_str(), spelling);
        assert_eq!(RevocationReason::parse(spelling), Some(reason));
    }
}

#[test]
fn an_unknown_revocation_reason_does_not_parse() {
    for raw in ["", "Logout", " logout", "logout-all", "expired"] {
        assert_eq!(RevocationReason::parse(raw), None, "{raw:?}");
    }
}
