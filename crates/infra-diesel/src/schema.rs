//! The tables as Diesel sees them; mirrors `migrations/{postgres,sqlite}` (written in
//! `diesel print-schema` form, restricted to types both backends share).

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        password_hash -> Text,
        roles -> Text,
        created_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id) {
        id -> Text,
        user_id -> Text,
        created_at -> Timestamp,
        absolute_expires_at -> Timestamp,
        last_refreshed_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revocation_reason -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        session_id -> Text,
        generation -> Integer,
        token_hash -> Binary,
        issued_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        sealed_successor -> Nullable<Binary>,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        private_key -> Binary,
        public_key -> Binary,
        created_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    auth_events (id) {
        id -> BigInt,
        at -> Timestamp,
        kind -> Text,
        user_id -> Nullable<Text>,
        session_id -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        code -> Nullable<Text>,
        actor_id -> Nullable<Text>,
    }
}

diesel::joinable!(refresh_tokens -> sessions (session_id));
diesel::joinable!(sessions -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    refresh_tokens,
    signing_keys,
    auth_events,
    server_secrets,
);

diesel::table! {
    server_secrets (name) {
        name -> Text,
        value -> Binary,
        created_at -> Timestamp,
    }
}
