//! Bugs the simulation found in the cores and shells, each known by the
//! cause that starts it, not only by the promise it breaks: a seed that
//! breaks a promise for a known cause is reported, not failed, until the
//! fix lands (each has an ignored test with its seed in tests/simulation.rs).
//! A broken promise without a known cause fails the suite.

/// A known bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Finding {
    /// Region shell: a driver's second socket whose attach fails is closed,
    /// but the index keeps the "busy until attached" mark: the driver is
    /// never offered a ride there again until a Driver DO delivery changes it.
    FailedAttachKeepsBusyMark,
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
}

impl Finding {
    /// Where the bug is and what it does, in one line.
    pub fn summary(self) -> &'static str {
        match self {
            Finding::FailedAttachKeepsBusyMark => {
                "durable-objects/region_sockets.rs attached: a failed attach leaves the index's busy mark of the driver's other socket"
            }
            Finding::AttachMarksOneSocket => {
                "durable-objects/region_sockets.rs attached: the mark lands on the new socket only; commitments.rs attach settles the region"
            }
            Finding::UnorderedBusyMarks => {
                "region_sockets.rs attached, region_delivery.rs: an older busy mark (attach answer, delivery, fast mark) overwrites a newer one"
            }
        }
    }
}
