//! Value types: e-mail addresses, passwords and their hashes, roles, user standing and
//! identifiers.

use tessera_domain::{
    EmailAddress, Instant, InvalidInput, Password, PasswordHash, RefreshTokenId, Role, SessionId,
    User, UserId, UserStanding,
};
use uuid::Uuid;

fn email(raw: &str) -> EmailAddress {
    EmailAddress::parse(raw).unwrap_or_else(|error| panic!("{raw:?} refused: {error}"))
}

fn assert_not_an_email(raw: &str) {
    assert_eq!(
        EmailAddress::parse(raw),
        Err(InvalidInput {
            field: "email",
            message: "must be an e-mail address",
        }),
        "{raw:?} should be refused"
    );
}

/// An address of exactly `len` bytes: `aaa…@example.com`.
fn email_of_length(len: usize) -> String {
    let domain = "@example.com";
    format!("{}{domain}", "a".repeat(len - domain.len()))
}

fn assert_password_refused(raw: &str, message: &'static str) {
    assert_eq!(
        Password::new(raw),
        Err(InvalidInput {
            field: "password",
            message,
        }),
        "{} chars",
        raw.chars().count()
    );
}

// ---------------------------------------------------------------------------------
// EmailAddress
// ---------------------------------------------------------------------------------

#[test]
fn an_email_address_is_trimmed_and_lower_cased() {
    let address = email("  Alice.Smith+Work@Example.COM \n");
    assert_eq!(address.as_str(), "alice.smith+work@example.com");
    assert_eq!(address.to_string(), "alice.smith+work@example.com");
}

#[test]
fn one_mailbox_spelled_two_ways_is_one_address() {
    assert_eq!(email("BOB@example.org"), email(" bob@EXAMPLE.org"));
}

#[test]
fn ordinary_addresses_are_accepted() {
    for raw in [
        "a@b.co",
        "first.last@sub.example.co.uk",
        "x_y-z@mail-server.example",
        "o'brien@example.ie",
    ] {
        assert_eq!(email(raw).as_str(), raw);
    }
}

#[test]
fn an_address_without_at_sign_is_refused() {
    assert_not_an_email("alice.example.com");
}

#[test]
fn an_address_with_two_at_signs_is_refused() {
    assert_not_an_email("alice@home@example.com");
    assert_not_an_email("alice@@example.com");
}

#[test]
fn a_domain_without_a_dot_is_refused() {
    assert_not_an_email("alice@localhost");
}

#[test]
fn empty_parts_are_refused() {
    for raw in [
        "",
        "   ",
        "@example.com",
        "alice@",
        "alice@.com",
        "alice@example.",
        "alice@example..com",
    ] {
        assert_not_an_email(raw);
    }
}

#[test]
fn domain_labels_starting_or_ending_with_a_hyphen_are_refused() {
    assert_not_an_email("alice@-example.com");
    assert_not_an_email("alice@example-.com");
}

#[test]
fn spaces_and_control_characters_inside_an_address_are_refused() {
    for raw in [
        "al ice@example.com",
        "alice@exa mple.com",
        "alice@example.com\u{0}",
        "alice\t@example.com",
        "alice@example.com\u{7f}x",
    ] {
        assert_not_an_email(raw);
    }
}

#[test]
fn angle_brackets_and_quotes_are_refused() {
    for raw in [
        "<alice@example.com>",
        "alice<@example.com",
        "alice@example.com>",
        "\"alice\"@example.com",
    ] {
        assert_not_an_email(raw);
    }
}

#[test]
fn an_address_of_254_characters_is_accepted() {
    let raw = email_of_length(254);
    assert_eq!(email(&raw).as_str().len(), 254);
}

#[test]
fn an_address_of_255_characters_is_refused() {
    assert_not_an_email(&email_of_length(255));
}

#[test]
fn surrounding_space_does_not_count_towards_the_length_limit() {
    let raw = format!("  {}  ", email_of_length(254));
    assert_eq!(email(&raw).as_str().len(), 254);
}

#[test]
fn invalid_input_names_its_field() {
    let error = EmailAddress::parse("nope").expect_err("not an address");
    assert_eq!(error.to_string(), "email: must be an e-mail address");
}

// ---------------------------------------------------------------------------------
// Password and PasswordHash
// ---------------------------------------------------------------------------------

#[test]
fn a_password_of_8_characters_is_accepted() {
    let password = Password::new("12345678").expect("8 characters");
    assert_eq!(password.expose(), "12345678");
}

#[test]
fn a_password_of_7_characters_is_refused() {
    assert_password_refused("1234567", "must be at least 8 characters");
}

#[test]
fn a_password_of_128_characters_is_accepted() {
    assert!(Password::new("p".repeat(128)).is_ok());
}

#[test]
fn a_password_of_129_characters_is_refused() {
    assert_password_refused(&"p".repeat(129), "must be at most 128 characters");
}

#[test]
fn password_length_counts_characters_not_bytes() {
    // 8 characters, 16 bytes.
    let accented = "é".repeat(8);
    assert_eq!(accented.len(), 16);
    assert!(Password::new(accented).is_ok());
    // 7 characters, 28 bytes: still too short.
    let keys = "🔑".repeat(7);
    assert_eq!(keys.len(), 28);
    assert_password_refused(&keys, "must be at least 8 characters");
    // 128 characters, 512 bytes: still allowed.
    assert!(Password::new("🔑".repeat(128)).is_ok());
    assert_password_refused(&"é".repeat(129), "must be at most 128 characters");
}

#[test]
fn surrounding_space_is_part_of_a_password() {
    let password = Password::new(" secret ").expect("8 characters with spaces");
    assert_eq!(password.expose(), " secret ");
    assert_password_refused(" secre ", "must be at least 8 characters");
}

#[test]
fn password_debug_never_shows_the_password() {
    let password = Password::new("correct horse battery staple").expect("valid");
    let debug = format!("{password:?} {password:#?}");
    assert!(!debug.contains("correct"), "{debug}");
    assert!(!debug.contains("staple"), "{debug}");
    // Nor when it sits inside another value.
    let wrapped = format!("{:?}", Some(("login", password)));
    assert!(!wrapped.contains("horse"), "{wrapped}");
}

#[test]
fn password_hash_debug_is_redacted() {
    let phc = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
    let hash = PasswordHash::new(phc.to_owned());
    assert_eq!(hash.as_str(), phc);
    let debug = format!("{hash:?}");
    assert!(!debug.contains("argon2id"), "{debug}");
    assert!(!debug.contains("c2FsdHNhbHQ"), "{debug}");
}

// ---------------------------------------------------------------------------------
// Role
// ---------------------------------------------------------------------------------

#[test]
fn the_default_role_is_user() {
    assert_eq!(Role::user().as_str(), "user");
    assert_eq!(Role::parse("user"), Ok(Role::user()));
}

#[test]
fn roles_of_lower_case_letters_digits_and_separators_parse() {
    for raw in [
        "admin",
        "billing:read",
        "team-42_lead",
        "a",
        &"r".repeat(64),
    ] {
        let role = Role::parse(raw).unwrap_or_else(|error| panic!("{raw:?}: {error}"));
        assert_eq!(role.as_str(), raw);
    }
}

#[test]
fn malformed_roles_are_refused() {
    let refusal = Err(InvalidInput {
        field: "role",
        message: "must be 1-64 of a-z, 0-9, _, - or :",
    });
    for raw in [
        "",
        "Admin",
        "super user",
        "rôle",
        "admin\n",
        "a/b",
        &"r".repeat(65),
    ] {
        assert_eq!(Role::parse(raw), refusal, "{raw:?}");
    }
}

// ---------------------------------------------------------------------------------
// User
// ---------------------------------------------------------------------------------

fn user(disabled_at: Option<Instant>) -> User {
    User {
        id: UserId::from_uuid(Uuid::from_u128(1)),
        email: email("alice@example.com"),
        password_hash: PasswordHash::new("$argon2id$...".to_owned()),
        roles: vec![Role::user()],
        created_at: Instant::UNIX_EPOCH,
        disabled_at,
    }
}

#[test]
fn a_user_without_disabled_at_is_active() {
    assert_eq!(user(None).standing(), UserStanding::Active);
}

#[test]
fn a_user_with_disabled_at_is_disabled() {
    assert_eq!(
        user(Some(Instant::UNIX_EPOCH)).standing(),
        UserStanding::Disabled
    );
}

// ---------------------------------------------------------------------------------
// Identifiers
// ---------------------------------------------------------------------------------

const SAMPLE: &str = "0192f4c8-7a3e-7b1c-9d2e-4f5a6b7c8d9e";

#[test]
fn ids_display_as_hyphenated_lower_case_uuids() {
    let uuid = Uuid::parse_str(SAMPLE).expect("a UUID");
    assert_eq!(UserId::from_uuid(uuid).to_string(), SAMPLE);
    assert_eq!(SessionId::from_uuid(uuid).to_string(), SAMPLE);
    assert_eq!(RefreshTokenId::from_uuid(uuid).to_string(), SAMPLE);
}

#[test]
fn ids_round_trip_through_display_and_from_str() {
    for n in [
        0u128,
        1,
        u128::MAX,
        0x0192_f4c8_7a3e_7b1c_9d2e_4f5a_6b7c_8d9e,
    ] {
        let uuid = Uuid::from_u128(n);
        let user = UserId::from_uuid(uuid);
        let session = SessionId::from_uuid(uuid);
        let token = RefreshTokenId::from_uuid(uuid);
        assert_eq!(user.to_string().parse::<UserId>(), Ok(user));
        assert_eq!(session.to_string().parse::<SessionId>(), Ok(session));
        assert_eq!(token.to_string().parse::<RefreshTokenId>(), Ok(token));
        assert_eq!(token.as_uuid(), uuid);
    }
}

#[test]
fn ids_parse_upper_case_uuids_to_the_same_id() {
    let lower: SessionId = SAMPLE.parse().expect("lower case");
    let upper: SessionId = SAMPLE.to_uppercase().parse().expect("upper case");
    assert_eq!(lower, upper);
}

#[test]
fn text_that_is_not_a_uuid_is_not_an_id() {
    for raw in [
        "",
        "session-1",
        "0192f4c8-7a3e-7b1c-9d2e",
        "zz92f4c8-7a3e-7b1c-9d2e-4f5a6b7c8d9e",
    ] {
        assert!(raw.parse::<SessionId>().is_err(), "{raw:?}");
        assert!(raw.parse::<RefreshTokenId>().is_err(), "{raw:?}");
        assert!(raw.parse::<UserId>().is_err(), "{raw:?}");
    }
}
