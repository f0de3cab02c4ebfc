//! Accepts of one ride take turns: while one accept's claim is out (its
//! Driver DO and the profile read), the next accept waits for its answer
//! instead of claiming its own driver too. The first accept usually wins,
//! so the ones queued behind it are refused by the core at once, with no
//! claim to send and release: a 5-way race costs one claim, not five.
//!
//! The core stays the judge (it checks every accept against the ride as it
//! is); this only orders the calls. A turn that is not handed back within
//! [`MAX_WAIT`] (a claim call hanging) lets the next accept go ahead anyway.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use futures::channel::oneshot;
use futures::future::{select, Either};

/// The longest an accept waits for the one before it.
pub const MAX_WAIT: Duration = Duration::from_secs(3);

/// The turn of one ride's accepts.
#[derive(Default)]
pub struct AcceptTurns {
    shared: Rc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Whether an accept holds the turn.
    taken: Cell<bool>,
    /// Accepts waiting for it, first come first served.
    waiting: RefCell<VecDeque<oneshot::Sender<()>>>,
}

/// The turn, held until dropped (on every path out of an accept, errors included).
pub struct Turn {
    shared: Option<Rc<Shared>>,
}

impl AcceptTurns {
    /// Waits for the turn (at most [`MAX_WAIT`]; after that the accept goes
    /// ahead without it).
    pub async fn take(&self) -> Turn {
        let shared = &self.shared;
        if !shared.taken.replace(true) {
            return Turn { shared: Some(shared.clone()) };
        }
        let (handed, wait) = oneshot::channel();
        shared.waiting.borrow_mut().push_back(handed);
        match select(wait, Box::pin(super::timer::sleep(MAX_WAIT))).await {
            // Handed over by the turn before (or its sender dropped with the object's state).
            Either::Left(_) => Turn { shared: Some(shared.clone()) },
            Either::Right(_) => Turn { shared: None },
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let Some(shared) = self.shared.take() else { return };
        // To the longest waiting accept still waiting (one that gave up has dropped its end).
        while let Some(next) = shared.waiting.borrow_mut().pop_front() {
            if next.send(()).is_ok() {
                return;
            }
        }
        shared.taken.set(false);
    }
}
