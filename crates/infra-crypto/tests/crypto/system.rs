use tessera_application::ports::{Clock, IdGenerator};
use tessera_infra_crypto::{RandomIds, SystemClock};

#[test]
fn user_and_session_ids_are_time_ordered_v7_and_token_ids_are_v4() {
    let ids = RandomIds;
    let (first, second) = (ids.session_id(), ids.session_id());
    assert_eq!(first.as_uuid().get_version_num(), 7);
    assert!(first < second, "v7 ids made in order sort in order");
    assert_eq!(ids.user_id().as_uuid().get_version_num(), 7);
    assert_eq!(ids.token_id().get_version_num(), 4);
    assert_ne!(ids.token_id(), ids.token_id());
}

#[test]
fn the_system_clock_reads_the_current_utc_time() {
    let clock = SystemClock;
    let (before, after) = (clock.now(), clock.now());
    assert!(before <= after);
    assert!(before > crate::at(1_735_689_600), "later than 2025-01-01");
}
