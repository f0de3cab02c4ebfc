//! Dispatchers' notifications to drivers (`POST /v1/notifications` to a
//! user): the Worker's call to the driver's Driver DO, retried by nobody (a
//! failed one is a 500 the dispatcher sees). The promise checked once the
//! city is quiet: every notification its Driver DO took reached a socket of
//! the driver, at once or on a later connect (every driver connects once
//! after inputs stop, well within the 24 hours it is kept).

use super::clients::ClientCall;
use super::invariants::Violation;
use super::scheduler::{Addr, Request};
use super::world::World;

/// A dispatcher notifies a random driver.
pub fn notify_driver(w: &mut World) {
    let driver = w.net.sched.rng.below(w.drivers.len());
    let id = format!("n{:04}", w.net.clients.next_socket());
    let frame = format!(r#"{{"type":"notification","id":"{id}","title":"t","message":"m","severity":"info"}}"#);
    let now = w.net.sched.now;
    w.net.trace.note(now, || format!("dispatcher: notify {} {id}", super::driver_id(driver)));
    let call = w.net.sched.call(Addr::Client, Addr::Driver(driver), Request::Notify { id: id.clone(), frame });
    w.net.clients.pending.insert(call, ClientCall::Notify(driver, id));
}

/// The Driver DO's answer: a notification it took must reach the driver.
pub fn answered(w: &mut World, driver: usize, id: String, taken: bool) {
    if taken {
        w.net.obs.notified.push((driver, id));
    }
}

/// Inputs stopped: every driver without a socket connects once, in its region.
pub fn connect_offline_drivers(w: &mut World) {
    for driver in 0..w.drivers.len() {
        let app = &w.net.clients.drivers[driver];
        if !app.sockets.is_empty() {
            continue;
        }
        let (region, location) = (app.region, app.location);
        let socket_id = format!("s{:04}", w.net.clients.next_socket());
        let now = w.net.sched.now;
        w.net.trace.note(now, || format!("app: {} connects {socket_id} in r{}", super::driver_id(driver), region + 1));
        w.regions[region].connect(driver, socket_id, location, &mut w.net);
    }
}

/// Every notification a Driver DO took reached a socket of its driver.
pub fn every_notification_arrived(w: &World) -> Result<(), Violation> {
    for (driver, id) in &w.net.obs.notified {
        if !w.net.clients.drivers[*driver].notifications.contains(id) {
            let kept =
                w.drivers[*driver].current().map(|c| c.owed.iter().filter(|o| o.frame.contains(id.as_str())).count());
            let detail = format!("{} never got {id} (frames of it still owed: {kept:?})", super::driver_id(*driver));
            return Err(Violation::new("a notification a driver's Driver DO took reaches the driver", detail));
        }
    }
    Ok(())
}
