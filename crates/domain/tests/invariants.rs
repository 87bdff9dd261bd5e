//! SPEC §2 invariants as properties: random operation sequences run against a small
//! model of the application layer (a "world" of sessions and refresh tokens) that asks
//! the domain for every decision and performs it, with an injected clock.
//!
//! Checked after every step:
//! (a) at most one unrevoked, unused refresh token per session;
//! (b) once reuse is detected, no token of that family is accepted again;
//! (c) N concurrent refreshes with one token: one rotation, N-1 repeats of its answer;
//!     a token never gets a second successor, so the chain never branches;
//! (d) nothing is accepted at or after the session's absolute end, whatever the activity;
//! (e) a revoked session stays revoked (same time, same reason) and never accepts again;
//! and, for every decision, the idle timeout never fails open.

#![allow(
    clippy::expect_used,
    reason = "a fixture that cannot be built is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use tessera_domain::{
    ClientContext, Instant, IpChangePolicy, RefreshAction, RefreshAttempt, RefreshDecision,
    RefreshRefusal, RefreshToken, RefreshTokenId, RevocationReason, Session, SessionId,
    SessionPolicy, SessionPolicySettings, TimeDelta, UserId, UserStanding,
};
use uuid::Uuid;

type Check = Result<(), TestCaseError>;

/// How one refresh request ended: the action and the successor token it answered with,
/// or the refusal.
type Answer = Result<(RefreshAction, RefreshTokenId), RefreshRefusal>;

type Decided = Result<RefreshDecision, RefreshRefusal>;

// ---------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------

fn t0() -> Instant {
    Instant::from_timestamp(1_735_689_600, 0).expect("a valid instant")
}

fn settings(
    access_ttl: TimeDelta,
    idle_timeout: TimeDelta,
    absolute_lifetime: TimeDelta,
    reuse_grace: TimeDelta,
) -> SessionPolicySettings {
    SessionPolicySettings {
        access_ttl,
        idle_timeout,
        absolute_lifetime,
        reuse_grace,
        bind_user_agent: false,
        ip_change: IpChangePolicy::Allow,
    }
}

/// access 60 s, idle 10 min, absolute 1 h, grace 10 s.
fn short_policy() -> SessionPolicy {
    SessionPolicy::try_from(settings(
        TimeDelta::seconds(60),
        TimeDelta::minutes(10),
        TimeDelta::hours(1),
        TimeDelta::seconds(10),
    ))
    .expect("a valid policy")
}

fn home() -> ClientContext {
    ClientContext {
        ip: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7))),
        user_agent: Some("Mozilla/5.0 Firefox/128.0".to_owned()),
    }
}

fn elsewhere() -> ClientContext {
    ClientContext {
        ip: Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 23))),
        ..home()
    }
}

// ---------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------

/// A length the clock can advance by, scaled from the policy.
#[derive(Debug, Clone, Copy)]
enum Span {
    Grace,
    AccessTtl,
    IdleTimeout,
    AbsoluteLifetime,
}

/// An instant where a rule changes its answer.
#[derive(Debug, Clone, Copy)]
enum Boundary {
    Absolute,
    Idle,
    Grace,
}

#[derive(Debug, Clone)]
enum Op {
    Login,
    /// Present the session's latest token, from home or from another IP.
    Refresh {
        session: usize,
        from_elsewhere: bool,
    },
    /// Present one of the session's older (already rotated) tokens.
    Replay {
        session: usize,
        pick: usize,
    },
    /// `requests` requests with the session's latest token at the same instant.
    ConcurrentRefresh {
        session: usize,
        requests: usize,
    },
    /// A refresh decided before a logout and written after it.
    RefreshRacingLogout {
        session: usize,
    },
    Logout {
        session: usize,
    },
    /// Advance by `permille`/1000 of a policy span: from 0 to 1.5 times it.
    AdvanceClock {
        span: Span,
        permille: i32,
    },
    /// Jump to a boundary of one session, give or take a microsecond (never backwards).
    AdvanceToBoundary {
        session: usize,
        boundary: Boundary,
        offset_us: i64,
    },
    /// An authenticated request of the session, recorded by the activity store.
    RecordActivity {
        session: usize,
    },
    PresentUnknownToken,
}

fn op() -> impl Strategy<Value = Op> {
    let session = 0usize..4;
    let span = prop_oneof![
        Just(Span::Grace),
        Just(Span::AccessTtl),
        Just(Span::IdleTimeout),
        Just(Span::AbsoluteLifetime),
    ];
    let boundary = prop_oneof![
        Just(Boundary::Absolute),
        Just(Boundary::Idle),
        Just(Boundary::Grace),
    ];
    prop_oneof![
        2 => Just(Op::Login),
        8 => (session.clone(), prop::bool::weighted(0.2))
            .prop_map(|(session, from_elsewhere)| Op::Refresh { session, from_elsewhere }),
        4 => (session.clone(), 0usize..16).prop_map(|(session, pick)| Op::Replay { session, pick }),
        3 => (session.clone(), 2usize..=6)
            .prop_map(|(session, requests)| Op::ConcurrentRefresh { session, requests }),
        1 => session.clone().prop_map(|session| Op::RefreshRacingLogout { session }),
        1 => session.clone().prop_map(|session| Op::Logout { session }),
        6 => (span, 0i32..=1500).prop_map(|(span, permille)| Op::AdvanceClock { span, permille }),
        2 => (session.clone(), boundary, -1i64..=1).prop_map(|(session, boundary, offset_us)| {
            Op::AdvanceToBoundary { session, boundary, offset_us }
        }),
        4 => session.prop_map(|session| Op::RecordActivity { session }),
        1 => Just(Op::PresentUnknownToken),
    ]
}

/// A login first, so most sequences have a session to work on.
fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..60).prop_map(|mut ops| {
        ops.insert(0, Op::Login);
        ops
    })
}

/// Valid policies: access 1 s..5 min, grace 0 or a fraction of access, idle and
/// absolute longer by up to 1 h and 2 h; any binding.
fn any_policy() -> impl Strategy<Value = SessionPolicy> {
    let grace_permille = prop_oneof![1 => Just(0i64), 4 => 1i64..1000];
    let ip_change = prop_oneof![
        Just(IpChangePolicy::Allow),
        Just(IpChangePolicy::Audit),
        Just(IpChangePolicy::Deny),
    ];
    (
        1i64..=300,
        grace_permille,
        1i64..=3_600,
        0i64..=7_200,
        any::<bool>(),
        ip_change,
    )
        .prop_map(
            |(access_s, grace_permille, idle_extra_s, absolute_extra_s, bind, ip)| {
                let access_ttl = TimeDelta::seconds(access_s);
                let idle_timeout = access_ttl + TimeDelta::seconds(idle_extra_s);
                let settings = SessionPolicySettings {
                    bind_user_agent: bind,
                    ip_change: ip,
                    ..settings(
                        access_ttl,
                        idle_timeout,
                        idle_timeout + TimeDelta::seconds(absolute_extra_s),
                        // access_s * 1000 ms * permille / 1000, below access_ttl.
                        TimeDelta::milliseconds(access_s * grace_permille),
                    )
                };
                SessionPolicy::try_from(settings).expect("valid by construction")
            },
        )
}

// ---------------------------------------------------------------------------------
// The world: stored sessions and tokens, and the application's use of decisions
// ---------------------------------------------------------------------------------

#[derive(Debug)]
struct World {
    policy: SessionPolicy,
    now: Instant,
    next_id: u128,
    sessions: BTreeMap<SessionId, Session>,
    /// Session ids in login order, so operations can pick one by index.
    logins: Vec<SessionId>,
    tokens: BTreeMap<RefreshTokenId, RefreshToken>,
    /// Each session's tokens in the order they were issued.
    families: BTreeMap<SessionId, Vec<RefreshTokenId>>,
    /// The successor each rotated token was exchanged for: the response a repeat gets.
    successors: BTreeMap<RefreshTokenId, RefreshTokenId>,
    /// The activity store.
    activity: BTreeMap<SessionId, Instant>,
    reuse_detected: BTreeSet<SessionId>,
    /// Revocations as first seen, to check they never change.
    revocations: BTreeMap<SessionId, (Instant, RevocationReason)>,
}

impl World {
    fn new(policy: SessionPolicy) -> Self {
        Self {
            policy,
            now: t0(),
            next_id: 1,
            sessions: BTreeMap::new(),
            logins: Vec::new(),
            tokens: BTreeMap::new(),
            families: BTreeMap::new(),
            successors: BTreeMap::new(),
            activity: BTreeMap::new(),
            reuse_detected: BTreeSet::new(),
            revocations: BTreeMap::new(),
        }
    }

    fn fresh_uuid(&mut self) -> Uuid {
        self.next_id += 1;
        Uuid::from_u128(self.next_id)
    }

    fn pick_session(&self, index: usize) -> Option<SessionId> {
        if self.logins.is_empty() {
            None
        } else {
            Some(self.logins[index % self.logins.len()])
        }
    }

    fn family(&self, session: SessionId) -> &[RefreshTokenId] {
        self.families.get(&session).map_or(&[], Vec::as_slice)
    }

    fn latest_token(&self, session: SessionId) -> RefreshTokenId {
        *self
            .family(session)
            .last()
            .expect("every session has a token")
    }

    fn login(&mut self) -> SessionId {
        let session_id = SessionId::from_uuid(self.fresh_uuid());
        let token_id = RefreshTokenId::from_uuid(self.fresh_uuid());
        let user = UserId::from_uuid(Uuid::from_u128(1));
        let session = Session::start(session_id, user, home(), self.now, &self.policy);
        let token = RefreshToken::first(token_id, session_id, self.now);
        self.sessions.insert(session_id, session);
        self.tokens.insert(token_id, token);
        self.families.insert(session_id, vec![token_id]);
        self.logins.push(session_id);
        session_id
    }

    fn revoke(&mut self, session: SessionId, reason: RevocationReason) {
        if let Some(session) = self.sessions.get_mut(&session) {
            session.revoke(reason, self.now);
        }
    }

    /// Reads the stored state and asks the domain, checking every acceptance against
    /// invariants (b), (d), (e) and the idle timeout.
    fn decide(
        &self,
        token_id: RefreshTokenId,
        client: &ClientContext,
    ) -> Result<Decided, TestCaseError> {
        let token = self.tokens.get(&token_id);
        let session = token.and_then(|token| self.sessions.get(&token.session_id));
        let attempt = token.zip(session).map(|(token, session)| RefreshAttempt {
            token,
            session,
            user: UserStanding::Active,
            recorded_activity: self.activity.get(&session.id).copied(),
            client,
            now: self.now,
        });
        let decided = self.policy.decide_refresh(attempt);
        let Some(session) = session else {
            prop_assert_eq!(decided, Err(RefreshRefusal::TokenInvalid));
            return Ok(decided);
        };
        if session.revoked_at.is_some() {
            prop_assert_eq!(
                decided,
                Err(RefreshRefusal::SessionRevoked),
                "(e) revoked session"
            );
        }
        if let Ok(decision) = decided {
            prop_assert!(
                !self.reuse_detected.contains(&session.id),
                "(b) a family with detected reuse was accepted again: {:?}",
                decision
            );
            prop_assert!(
                self.now < session.absolute_expires_at,
                "(d) accepted at {} though the session ended at {}",
                self.now,
                session.absolute_expires_at
            );
            // SPEC §5: the idle timeout never fails open, whatever the store says.
            let recorded = self.activity.get(&session.id).copied();
            let last_activity = recorded.map_or(session.last_refreshed_at, |seen| {
                seen.max(session.last_refreshed_at)
            });
            prop_assert!(
                self.now < last_activity + self.policy.idle_timeout(),
                "accepted at {} though the session was idle since {}",
                self.now,
                last_activity
            );
            let audited_ip_change =
                self.policy.ip_change() == IpChangePolicy::Audit && client.ip != session.client.ip;
            prop_assert_eq!(decision.ip_changed, audited_ip_change);
        }
        Ok(decided)
    }

    /// Performs a decision, possibly made on state that has changed since, the way the
    /// application does.
    fn perform(
        &mut self,
        token_id: RefreshTokenId,
        client: &ClientContext,
        decided: Decided,
    ) -> Result<Answer, TestCaseError> {
        match decided {
            Ok(RefreshDecision {
                action: RefreshAction::Rotate,
                ..
            }) => self.rotate(token_id, client),
            Ok(RefreshDecision {
                action: RefreshAction::RepeatWithinGrace,
                ..
            }) => {
                // The answer is the one the first request got: the successor issued then.
                let Some(successor) = self.successors.get(&token_id).copied() else {
                    return Err(TestCaseError::fail(
                        "a repeat of a token that was never rotated",
                    ));
                };
                Ok(Ok((RefreshAction::RepeatWithinGrace, successor)))
            }
            Err(refusal) => {
                if refusal.revokes_session() {
                    let session = self.tokens[&token_id].session_id;
                    self.revoke(session, RevocationReason::Reuse);
                    self.reuse_detected.insert(session);
                }
                Ok(Err(refusal))
            }
        }
    }

    /// The rotation transaction: it writes only if the token is still unused and its
    /// session still live (`used_at IS NULL` and not revoked, in one statement).
    /// A lost race reads again and decides again.
    fn rotate(
        &mut self,
        token_id: RefreshTokenId,
        client: &ClientContext,
    ) -> Result<Answer, TestCaseError> {
        let parent = self.tokens[&token_id].clone();
        let session_live = self.sessions[&parent.session_id].is_live_at(self.now);
        if parent.used_at.is_some() || !session_live {
            let again = self.decide(token_id, client)?;
            prop_assert_ne!(
                again.map(|decision| decision.action),
                Ok(RefreshAction::Rotate),
                "a token that lost its rotation race was rotated again"
            );
            return self.perform(token_id, client, again);
        }
        prop_assert!(
            !self.successors.contains_key(&token_id),
            "(c) a second successor for one token"
        );
        let successor = parent.successor(RefreshTokenId::from_uuid(self.fresh_uuid()), self.now);
        prop_assert_eq!(successor.generation, parent.generation + 1);
        prop_assert_eq!(successor.session_id, parent.session_id);
        let successor_id = successor.id;
        if let Some(token) = self.tokens.get_mut(&token_id) {
            token.used_at = Some(self.now);
        }
        self.tokens.insert(successor_id, successor);
        self.successors.insert(token_id, successor_id);
        self.families
            .entry(parent.session_id)
            .or_default()
            .push(successor_id);
        if let Some(session) = self.sessions.get_mut(&parent.session_id) {
            session.last_refreshed_at = self.now;
        }
        self.activity.insert(parent.session_id, self.now);
        Ok(Ok((RefreshAction::Rotate, successor_id)))
    }

    fn refresh(
        &mut self,
        token_id: RefreshTokenId,
        client: &ClientContext,
    ) -> Result<Answer, TestCaseError> {
        let decided = self.decide(token_id, client)?;
        self.perform(token_id, client, decided)
    }

    /// `requests` requests with the session's latest token at one instant: all read
    /// the same state and decide, then write one after another. Checks (c).
    fn concurrent_refresh(
        &mut self,
        session: SessionId,
        requests: usize,
    ) -> Result<Vec<Answer>, TestCaseError> {
        let token_id = self.latest_token(session);
        let issued_before = self.family(session).len();
        let mut decisions = Vec::with_capacity(requests);
        for _ in 0..requests {
            decisions.push(self.decide(token_id, &home())?);
        }
        let mut answers = Vec::with_capacity(requests);
        for decided in decisions {
            answers.push(self.perform(token_id, &home(), decided)?);
        }
        let issued = self.family(session).len() - issued_before;
        match answers[0] {
            Ok((RefreshAction::Rotate, successor)) => {
                prop_assert_eq!(issued, 1, "(c) one rotation issues one successor");
                for (index, answer) in answers.iter().enumerate().skip(1) {
                    let expected = if self.policy.reuse_grace() > TimeDelta::zero() {
                        Ok((RefreshAction::RepeatWithinGrace, successor))
                    } else if index == 1 {
                        // Without a grace window a duplicate is reuse, which ends the
                        // session for every request after it.
                        Err(RefreshRefusal::Reused)
                    } else {
                        Err(RefreshRefusal::SessionRevoked)
                    };
                    prop_assert_eq!(answer, &expected, "(c) answers: {:?}", answers);
                }
            }
            first => {
                prop_assert!(first.is_err(), "the latest token was repeated: {:?}", first);
                prop_assert_eq!(issued, 0);
                for answer in &answers[1..] {
                    prop_assert_eq!(answer, &first, "(c) answers: {:?}", answers);
                }
            }
        }
        Ok(answers)
    }

    fn advance_to(&mut self, target: Instant) {
        if target > self.now {
            self.now = target;
        }
    }

    fn boundary(&self, session: SessionId, boundary: Boundary) -> Option<Instant> {
        let stored = &self.sessions[&session];
        match boundary {
            Boundary::Absolute => Some(stored.absolute_expires_at),
            Boundary::Idle => Some(
                stored.last_activity(self.activity.get(&session).copied())
                    + self.policy.idle_timeout(),
            ),
            Boundary::Grace => {
                let family = self.family(session);
                let parent = family
                    .len()
                    .checked_sub(2)
                    .map(|i| &self.tokens[&family[i]]);
                parent
                    .and_then(|token| token.used_at)
                    .map(|used_at| used_at + self.policy.reuse_grace())
            }
        }
    }

    fn span(&self, span: Span) -> TimeDelta {
        match span {
            Span::Grace => self.policy.reuse_grace(),
            Span::AccessTtl => self.policy.access_ttl(),
            Span::IdleTimeout => self.policy.idle_timeout(),
            Span::AbsoluteLifetime => self.policy.absolute_lifetime(),
        }
    }

    fn apply(&mut self, op: &Op) -> Check {
        match *op {
            Op::Login => {
                self.login();
            }
            Op::Refresh {
                session,
                from_elsewhere,
            } => {
                let Some(session) = self.pick_session(session) else {
                    return Ok(());
                };
                let client = if from_elsewhere { elsewhere() } else { home() };
                let answer = self.refresh(self.latest_token(session), &client)?;
                if let Ok((action, _)) = answer {
                    prop_assert_eq!(action, RefreshAction::Rotate, "the latest token is unused");
                }
            }
            Op::Replay { session, pick } => {
                let Some(session) = self.pick_session(session) else {
                    return Ok(());
                };
                let family = self.family(session).to_vec();
                if family.len() < 2 {
                    return Ok(());
                }
                let index = pick % (family.len() - 1);
                match self.refresh(family[index], &home())? {
                    Ok((RefreshAction::Rotate, _)) => {
                        prop_assert!(false, "an already rotated token was rotated again");
                    }
                    Ok((RefreshAction::RepeatWithinGrace, answer)) => {
                        prop_assert_eq!(answer, family[index + 1], "the first response");
                    }
                    Err(_) => {}
                }
            }
            Op::ConcurrentRefresh { session, requests } => {
                if let Some(session) = self.pick_session(session) {
                    self.concurrent_refresh(session, requests)?;
                }
            }
            Op::RefreshRacingLogout { session } => {
                let Some(session) = self.pick_session(session) else {
                    return Ok(());
                };
                let token_id = self.latest_token(session);
                let issued_before = self.family(session).len();
                let decided = self.decide(token_id, &home())?;
                self.revoke(session, RevocationReason::Logout);
                let answer = self.perform(token_id, &home(), decided)?;
                // An acceptance decided before the logout must not be written after it.
                let expected: Answer = match decided {
                    Ok(_) => Err(RefreshRefusal::SessionRevoked),
                    Err(refusal) => Err(refusal),
                };
                prop_assert_eq!(answer, expected);
                prop_assert_eq!(self.family(session).len(), issued_before);
            }
            Op::Logout { session } => {
                if let Some(session) = self.pick_session(session) {
                    self.revoke(session, RevocationReason::Logout);
                }
            }
            Op::AdvanceClock { span, permille } => {
                self.now += self.span(span) * permille / 1000;
            }
            Op::AdvanceToBoundary {
                session,
                boundary,
                offset_us,
            } => {
                let target = self
                    .pick_session(session)
                    .and_then(|session| self.boundary(session, boundary));
                if let Some(target) = target {
                    self.advance_to(target + TimeDelta::microseconds(offset_us));
                }
            }
            Op::RecordActivity { session } => {
                if let Some(session) = self.pick_session(session) {
                    self.activity.insert(session, self.now);
                }
            }
            Op::PresentUnknownToken => {
                let unknown = RefreshTokenId::from_uuid(self.fresh_uuid());
                let answer = self.refresh(unknown, &home())?;
                prop_assert_eq!(answer, Err(RefreshRefusal::TokenInvalid));
            }
        }
        Ok(())
    }

    /// The invariants that hold between any two steps.
    fn check(&mut self) -> Check {
        for (id, session) in &self.sessions {
            let family = self.family(*id);
            let unused: Vec<_> = family
                .iter()
                .filter(|token| self.tokens[*token].used_at.is_none())
                .collect();
            // (a); while the session is unrevoked the unused token is its latest.
            prop_assert!(unused.len() <= 1, "(a) {} unused tokens", unused.len());
            if session.revoked_at.is_none() {
                prop_assert_eq!(unused, vec![&family[family.len() - 1]], "(a)");
            }
            // (c) the family is one chain: generation n is followed by n + 1.
            for (index, token_id) in family.iter().enumerate() {
                let token = &self.tokens[token_id];
                prop_assert_eq!(token.session_id, *id);
                prop_assert_eq!(u64::from(token.generation), index as u64 + 1, "(c)");
                let next = family.get(index + 1);
                prop_assert_eq!(self.successors.get(token_id), next, "(c) chain");
                prop_assert_eq!(token.used_at.is_some(), next.is_some());
            }
            // (d) the absolute end is fixed at login.
            prop_assert_eq!(
                session.absolute_expires_at,
                session.created_at + self.policy.absolute_lifetime()
            );
            // (e) a revocation is never undone nor rewritten.
            if let Some(first) = self.revocations.get(id) {
                prop_assert_eq!(session.revoked_at, Some(first.0), "(e) resurrected");
                prop_assert_eq!(session.revocation_reason, Some(first.1), "(e)");
            }
            if self.reuse_detected.contains(id) {
                prop_assert!(session.revoked_at.is_some(), "(b) reuse must revoke");
            }
        }
        for (id, session) in &self.sessions {
            if let (Some(at), Some(reason)) = (session.revoked_at, session.revocation_reason) {
                self.revocations.entry(*id).or_insert((at, reason));
            }
        }
        prop_assert_eq!(
            self.successors.len(),
            self.tokens.len() - self.families.len(),
            "(c) one successor per rotation"
        );
        Ok(())
    }

    fn run(&mut self, ops: &[Op]) -> Check {
        for op in ops {
            let before = self.now;
            self.apply(op)?;
            prop_assert!(self.now >= before, "the clock went backwards");
            self.check()?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn invariants_hold_over_random_operation_sequences(ops in ops()) {
        World::new(short_policy()).run(&ops)?;
    }

    #[test]
    fn invariants_hold_under_random_valid_policies(policy in any_policy(), ops in ops()) {
        World::new(policy).run(&ops)?;
    }

    #[test]
    fn concurrent_refreshes_with_one_token_rotate_exactly_once(
        policy in any_policy().prop_filter("a grace window", |p| p.reuse_grace() > TimeDelta::zero()),
        requests in 2usize..=16,
        wait_permille in 0i32..1000,
        rotations_before in 0usize..4,
    ) {
        let mut world = World::new(policy);
        let session = world.login();
        for _ in 0..rotations_before {
            let answer = world.refresh(world.latest_token(session), &home())?;
            prop_assert!(matches!(answer, Ok((RefreshAction::Rotate, _))));
        }
        world.now += world.policy.idle_timeout() * wait_permille / 1000;
        let answers = world.concurrent_refresh(session, requests)?;

        let rotations = answers.iter().filter(|a| matches!(a, Ok((RefreshAction::Rotate, _)))).count();
        let repeats = answers
            .iter()
            .filter(|a| matches!(a, Ok((RefreshAction::RepeatWithinGrace, _))))
            .count();
        prop_assert_eq!(rotations, 1);
        prop_assert_eq!(repeats, requests - 1);
        let successors: BTreeSet<_> = answers.iter().flatten().map(|(_, successor)| *successor).collect();
        prop_assert_eq!(successors.len(), 1, "everyone gets the same successor");
        prop_assert_eq!(world.family(session).len(), rotations_before + 2);
        prop_assert!(world.sessions[&session].revoked_at.is_none());
    }

    #[test]
    fn no_refresh_is_accepted_at_or_after_the_absolute_end_whatever_the_activity(
        policy in any_policy(),
        past_end_us in prop_oneof![Just(0i64), 0i64..=86_400_000_000],
        refreshed_permille in 0i32..=1200,
        activity_us in prop::option::of(-3_600_000_000i64..=172_800_000_000),
        used_ago_us in prop::option::of(0i64..=20_000_000),
    ) {
        let start = t0();
        let mut session = Session::start(
            SessionId::from_uuid(Uuid::from_u128(1)),
            UserId::from_uuid(Uuid::from_u128(2)),
            home(),
            start,
            &policy,
        );
        let now = session.absolute_expires_at + TimeDelta::microseconds(past_end_us);
        session.last_refreshed_at = start + policy.absolute_lifetime() * refreshed_permille / 1000;
        let mut token = RefreshToken::first(RefreshTokenId::from_uuid(Uuid::from_u128(3)), session.id, start);
        token.used_at = used_ago_us.map(|ago| now - TimeDelta::microseconds(ago));
        let decided = policy.decide_refresh(Some(RefreshAttempt {
            token: &token,
            session: &session,
            user: UserStanding::Active,
            // Relative to `now`: activity may be recorded "after" now, even a day later.
            recorded_activity: activity_us.map(|us| now + TimeDelta::microseconds(us)),
            client: &home(),
            now,
        }));
        prop_assert_eq!(decided, Err(RefreshRefusal::LifetimeExceeded));
    }

    #[test]
    fn once_reuse_is_detected_no_token_of_the_family_refreshes_again(
        policy in any_policy(),
        rotations in 1usize..6,
        pick in 0usize..6,
        later_waits in prop::collection::vec(0i32..=1200, 1..6),
    ) {
        let mut world = World::new(policy);
        let session = world.login();
        for _ in 0..rotations {
            let answer = world.refresh(world.latest_token(session), &home())?;
            prop_assert!(matches!(answer, Ok((RefreshAction::Rotate, _))));
        }
        let family = world.family(session).to_vec();
        let replayed = family[pick % rotations];
        world.now += world.policy.reuse_grace();
        prop_assert_eq!(world.refresh(replayed, &home())?, Err(RefreshRefusal::Reused));
        prop_assert_eq!(
            world.sessions[&session].revocation_reason,
            Some(RevocationReason::Reuse)
        );
        for wait in later_waits {
            world.now += world.policy.reuse_grace() * wait / 1000;
            for token in &family {
                prop_assert_eq!(
                    world.refresh(*token, &home())?,
                    Err(RefreshRefusal::SessionRevoked)
                );
            }
            world.check()?;
        }
    }
}

// ---------------------------------------------------------------------------------
// Examples the properties rely on
// ---------------------------------------------------------------------------------

#[test]
fn with_zero_grace_a_concurrent_duplicate_is_reuse_and_revokes_the_session() {
    let policy = SessionPolicy::try_from(settings(
        TimeDelta::seconds(60),
        TimeDelta::minutes(10),
        TimeDelta::hours(1),
        TimeDelta::zero(),
    ))
    .expect("a valid policy");
    let mut world = World::new(policy);
    let session = world.login();
    let answers = world
        .concurrent_refresh(session, 2)
        .expect("invariants hold");
    assert!(matches!(answers[0], Ok((RefreshAction::Rotate, _))));
    assert_eq!(answers[1], Err(RefreshRefusal::Reused));
    assert_eq!(
        world.sessions[&session].revocation_reason,
        Some(RevocationReason::Reuse)
    );
}

#[test]
fn a_refresh_decided_before_logout_is_not_written_after_it() {
    let mut world = World::new(short_policy());
    world.login();
    world
        .run(&[Op::RefreshRacingLogout { session: 0 }])
        .expect("invariants hold");
    let session = world.logins[0];
    assert_eq!(world.family(session).len(), 1, "no successor was issued");
    assert_eq!(
        world.sessions[&session].revocation_reason,
        Some(RevocationReason::Logout)
    );
}
