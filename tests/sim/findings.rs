//! Bugs the simulation found in the cores and shells, each known by the
//! cause that starts it, not only by the promise it breaks: a seed that
//! breaks a promise for a known cause is reported, not failed, until the
//! fix lands (each has an ignored test with its seed in tests/simulation.rs).
//! A broken promise without a known cause fails the suite.

/// A known bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Finding {
    /// Ride core: the release that follows a failed claim call frees the
    /// driver's claim, and a `Claimed` answer of another accept of the same
    /// driver (a double tap, a retry) is then recorded: the ride holds a
    /// driver its Driver DO does not, who may meanwhile take another ride.
    ReleasedClaimRecorded,
    /// Region shell: a driver's second socket whose attach fails is closed,
    /// but the index keeps the "busy until attached" mark: the driver is
    /// never offered a ride there again until a Driver DO delivery changes it.
    FailedAttachKeepsBusyMark,
    /// Ride shell: frames owed to drivers are written without an alarm;
    /// if the object restarts while they are being sent, nothing sends them
    /// again (a completed ride's driver stays busy for good).
    OutboxWithoutAlarm,
    /// Driver core: while a claim awaits its ride, the Driver DO still sends
    /// the driver its open offers (on attach, and owed ones), with a busy mark.
    OffersWhileClaimed,
    /// Region shell and driver core: busy marks carry no order. A mark
    /// decided before a change of the driver's active ride (an attach answer,
    /// a delivery sent before the Driver DO restarted, a ride's slow
    /// `ride_assigned` on the fast path) lands after the one that carried
    /// the change, and puts the old mark back for good.
    UnorderedBusyMarks,
    /// Region shell: an attach answer's busy mark goes on the new socket's
    /// attachment only, yet the Driver DO counts the region's mark as
    /// delivered: the driver's other sockets there keep an old mark, which
    /// comes back when the index is rebuilt after a wake-up or copied to a new socket.
    AttachMarksOneSocket,
    /// Driver core: marks and frames owed to regions get an alarm only once a
    /// delivery failed; if the object restarts while a delivery is out, they
    /// stay stored with no alarm, unsent until the driver's next input.
    /// (A ride's fast marks now often hide it from the regions' marks.)
    OwedMarkWithoutAlarm,
}

impl Finding {
    /// Where the bug is and what it does, in one line.
    pub fn summary(self) -> &'static str {
        match self {
            Finding::ReleasedClaimRecorded => {
                "src/core/dispatch.rs claim_lost/accept_claimed: a claim released after a failed call is recorded by a later Claimed"
            }
            Finding::FailedAttachKeepsBusyMark => {
                "durable-objects/region_sockets.rs attached: a failed attach leaves the index's busy mark of the driver's other socket"
            }
            Finding::OutboxWithoutAlarm => {
                "durable-objects/ride_effects.rs run/flush_drivers: owed driver frames get no alarm until a send fails"
            }
            Finding::OffersWhileClaimed => {
                "src/core/commitments.rs attach/pump: open offers go out with a busy mark while a claim is unconfirmed"
            }
            Finding::AttachMarksOneSocket => {
                "durable-objects/region_sockets.rs attached: the mark lands on the new socket only; commitments.rs attach settles the region"
            }
            Finding::OwedMarkWithoutAlarm => {
                "src/core/commitments.rs next_wake: marks_owed and owed frames wake nothing unless retry_at is set"
            }
            Finding::UnorderedBusyMarks => {
                "region_sockets.rs attached, region_delivery.rs: an older busy mark (attach answer, delivery, fast mark) overwrites a newer one"
            }
        }
    }
}
