//! What the apps do, at random: passengers create and cancel rides and
//! drop their ride sockets; drivers connect, disconnect, move region,
//! toggle availability, accept (sometimes twice), decline, lock and step;
//! a dispatcher cancels; any object restarts. Also the apps' own answers:
//! a failed create is retried, a failed ride socket reopened.

use ridewire::core::identity::{Caller, Role};
use ridewire::core::protocol::RideStep;
use ridewire::core::ride::RideStatus;
use ridewire::core::ride_input::RideInput;

use super::clients::{ClientCall, Passenger};
use super::ride_do::RideDo;
use super::scheduler::{Answer, ClientEvent, Event, Request};
use super::world::{near_center, World};

/// One random action of an app (or a restart).
pub fn random(w: &mut World) {
    let weights = [6, 6, 3, 3, 1, 18, 6, 5, 14, 4, 4, 2, 2];
    match w.net.sched.rng.weighted(&weights) {
        0 => create_ride(w),
        1 => connect_driver(w),
        2 => disconnect_driver(w),
        3 => move_driver(w),
        4 => toggle_available(w),
        5 => offered_driver_says(w, |driver_id| RideInput::Accept { driver_id }, true),
        6 => offered_driver_says(w, |driver_id| RideInput::Decline { driver_id }, false),
        7 => offered_driver_says(w, |driver_id| RideInput::Lock { driver_id }, false),
        8 => step(w),
        9 => cancel(w),
        10 => restart(w),
        11 => drop_rider_socket(w),
        _ => super::notifications::notify_driver(w),
    }
}

/// Sends a ride command (socket or HTTP: the same core path); its answer is only traced.
pub fn command(w: &mut World, ride: usize, input: RideInput) {
    let request = Request::Command(input);
    let now = w.net.sched.now;
    w.net.trace.note(now, || format!("app: {} {}", super::ride_id(ride), super::trace::request(&request)));
    w.call_ride(ride, request);
}

fn create_ride(w: &mut World) {
    if w.rides.len() >= w.max_rides {
        return connect_driver(w);
    }
    let index = w.rides.len();
    let pickup = near_center(&mut w.net.sched);
    let body = format!(
        r#"{{"pickup":{{"lat":{:.5},"lng":{:.5}}},"dropoff":{{"lat":-26.1076,"lng":28.0567}}}}"#,
        pickup.lat, pickup.lng
    );
    let region = w.net.sched.rng.below(w.regions.len());
    w.rides.push(RideDo::new(index, region, w.regions.len(), body));
    w.net.clients.passengers.push(Passenger::default());
    send_create(w, index);
}

fn send_create(w: &mut World, ride: usize) {
    let now = w.net.sched.now;
    w.net.trace.note(now, || format!("app: create {}", super::ride_id(ride)));
    let call = w.call_ride(ride, Request::CreateRide);
    w.net.clients.pending.insert(call, ClientCall::Create(ride));
}

/// A passenger without a ride socket opens one, resuming after the last seq it saw.
pub fn reconnect_passenger(w: &mut World, ride: usize) {
    let passenger = &w.net.clients.passengers[ride];
    if !passenger.created || passenger.socket.is_some() || passenger.connecting.is_some() {
        return;
    }
    let last_seq = passenger.received.last().map_or(0, |e| e.seq);
    let socket = w.net.clients.next_socket();
    w.net.clients.passengers[ride].connecting = Some(socket);
    let call = w.call_ride(ride, Request::ConnectRider { last_seq, socket });
    w.net.clients.pending.insert(call, ClientCall::Connect(ride, socket));
}

/// An answer to an app's call.
pub fn on_answer(w: &mut World, call: u64, answer: Answer) {
    match w.net.clients.pending.remove(&call) {
        Some(ClientCall::Create(ride)) if answer.is_ok() => {
            w.net.clients.passengers[ride].created = true;
            reconnect_passenger(w, ride);
        }
        Some(ClientCall::Create(ride)) => later(w, ClientEvent::RetryCreate(ride)),
        Some(ClientCall::Notify(driver, id)) => super::notifications::answered(w, driver, id, answer.is_ok()),
        Some(ClientCall::Connect(ride, socket)) if answer.is_err() => {
            let passenger = &mut w.net.clients.passengers[ride];
            if passenger.connecting == Some(socket) {
                passenger.connecting = None;
                later(w, ClientEvent::Reconnect(ride));
            }
        }
        _ => {}
    }
}

/// Something an app does on its own, later.
pub fn on_client_event(w: &mut World, event: ClientEvent) {
    match event {
        ClientEvent::Reconnect(ride) => reconnect_passenger(w, ride),
        ClientEvent::RetryCreate(ride) if !w.net.clients.passengers[ride].created => send_create(w, ride),
        ClientEvent::RetryCreate(_) => {}
    }
}

fn later(w: &mut World, event: ClientEvent) {
    let delay = w.net.sched.rng.range(500, 3_000);
    w.net.sched.at(w.net.sched.now + delay, Event::Client(event));
}

fn connect_driver(w: &mut World) {
    let rng = &mut w.net.sched.rng;
    let driver = match rng.chance(700) {
        true => (0..w.drivers.len()).find(|d| w.net.clients.drivers[*d].sockets.is_empty()),
        false => None,
    };
    let driver = driver.unwrap_or_else(|| rng.below(w.drivers.len()));
    let app = &w.net.clients.drivers[driver];
    if app.sockets.len() >= 2 {
        return;
    }
    let (region, location) = (app.region, app.location);
    let socket_id = format!("s{:04}", w.net.clients.next_socket());
    let now = w.net.sched.now;
    w.net.trace.note(now, || format!("app: {} connects {socket_id} in r{}", super::driver_id(driver), region + 1));
    w.regions[region].connect(driver, socket_id, location, &mut w.net);
}

fn disconnect_driver(w: &mut World) {
    let driver = w.net.sched.rng.below(w.drivers.len());
    let sockets: Vec<(String, usize)> = w.net.clients.drivers[driver].sockets.clone().into_iter().collect();
    if let Some((socket_id, region)) = w.net.sched.rng.pick(&sockets) {
        let now = w.net.sched.now;
        w.net.trace.note(now, || format!("app: {} closes {socket_id}", super::driver_id(driver)));
        w.regions[region].close(&socket_id, &mut w.net);
    }
}

/// The driver drives into another region: its sockets close there and one opens in the new one.
fn move_driver(w: &mut World) {
    let driver = w.net.sched.rng.below(w.drivers.len());
    let region = w.net.sched.rng.below(w.regions.len());
    let location = near_center(&mut w.net.sched);
    let reconnect_first = w.net.sched.rng.chance(500);
    let old: Vec<(String, usize)> = w.net.clients.drivers[driver].sockets.clone().into_iter().collect();
    let app = &mut w.net.clients.drivers[driver];
    app.region = region;
    app.location = location;
    if reconnect_first {
        connect_driver_to(w, driver);
    }
    for (socket_id, at) in old {
        w.regions[at].close(&socket_id, &mut w.net);
    }
    if !reconnect_first {
        connect_driver_to(w, driver);
    }
}

fn connect_driver_to(w: &mut World, driver: usize) {
    let app = &w.net.clients.drivers[driver];
    let (region, location) = (app.region, app.location);
    let socket_id = format!("s{:04}", w.net.clients.next_socket());
    let now = w.net.sched.now;
    w.net
        .trace
        .note(now, || format!("app: {} moves, connects {socket_id} in r{}", super::driver_id(driver), region + 1));
    w.regions[region].connect(driver, socket_id, location, &mut w.net);
}

fn toggle_available(w: &mut World) {
    let driver = w.net.sched.rng.below(w.drivers.len());
    let app = &mut w.net.clients.drivers[driver];
    app.available = !app.available;
    let available = app.available;
    let regions: Vec<usize> = app.sockets.values().copied().collect();
    for region in regions {
        w.regions[region].set_available(driver, available, &mut w.net);
    }
}

/// A driver acts on an offer that reached it (now and then on a ride it was never offered).
fn offered_driver_says(w: &mut World, say: fn(String) -> RideInput, may_repeat: bool) {
    if w.rides.is_empty() {
        return;
    }
    let rng = &mut w.net.sched.rng;
    let offered: Vec<usize> = (0..w.drivers.len()).filter(|d| !w.net.clients.drivers[*d].offers.is_empty()).collect();
    let (driver, ride) = match rng.pick(&offered).filter(|_| !rng.chance(150)) {
        Some(driver) => {
            let offers: Vec<usize> = w.net.clients.drivers[driver].offers.iter().copied().collect();
            (driver, rng.pick(&offers).expect("a driver with offers"))
        }
        None => (rng.below(w.drivers.len()), rng.below(w.rides.len())),
    };
    let times = if may_repeat && rng.chance(250) { 2 } else { 1 };
    for _ in 0..times {
        command(w, ride, say(super::driver_id(driver)));
    }
}

/// The assigned driver reports the next step (now and then a wrong one, or a stranger does).
fn step(w: &mut World) {
    let under_way: Vec<usize> = (0..w.rides.len())
        .filter(|r| matches!(w.status(*r), Some(RideStatus::Accepted | RideStatus::Arrived | RideStatus::InProgress)))
        .collect();
    let rng = &mut w.net.sched.rng;
    let steps = [RideStep::Arrived, RideStep::InProgress, RideStep::Completed];
    let Some(ride) = rng.pick(&under_way) else { return };
    let record = w.rides[ride].current().expect("a ride under way exists");
    let mut driver_id = record.ride.driver.as_ref().map_or_else(String::new, |d| d.id.clone());
    let mut step = match record.ride.status {
        RideStatus::Accepted => RideStep::Arrived,
        RideStatus::Arrived => RideStep::InProgress,
        _ => RideStep::Completed,
    };
    if rng.chance(200) {
        step = rng.pick(&steps).expect("three steps");
    }
    if rng.chance(100) {
        driver_id = super::driver_id(rng.below(w.drivers.len()));
    }
    command(w, ride, RideInput::Step { driver_id, step, evidence: Default::default(), req_id: None });
}

/// The passenger, a dispatcher or the assigned driver cancels.
fn cancel(w: &mut World) {
    if w.rides.is_empty() {
        return;
    }
    let rng = &mut w.net.sched.rng;
    let ride = rng.below(w.rides.len());
    let assigned = w.rides[ride].current().and_then(|r| r.ride.driver.as_ref().map(|d| d.id.clone()));
    let caller = match (rng.below(4), assigned) {
        (0 | 1, _) => Caller { sub: super::passenger_id(ride), role: Role::Passenger, name: None },
        (2, Some(driver)) => Caller { sub: driver, role: Role::Driver, name: None },
        _ => Caller { sub: "dispatch-1".into(), role: Role::Dispatcher, name: None },
    };
    command(w, ride, RideInput::Cancel { caller, reason: Some("changed plans".into()), req_id: None });
}

/// Any object restarts: memory lost, storage kept.
fn restart(w: &mut World) {
    let (rides, drivers, regions) = (w.rides.len(), w.drivers.len(), w.regions.len());
    let pick = w.net.sched.rng.below(rides + drivers + regions);
    let now = w.net.sched.now;
    w.net.obs.stats.restarts += 1;
    if pick < rides {
        w.net.trace.note(now, || format!("restart {}", super::ride_id(pick)));
        w.rides[pick].restart(&mut w.net);
    } else if pick < rides + drivers {
        let driver = pick - rides;
        w.net.trace.note(now, || format!("restart {}", super::driver_id(driver)));
        w.drivers[driver].restart(&mut w.net);
    } else {
        let region = pick - rides - drivers;
        w.net.trace.note(now, || format!("restart {}", super::region_name(region)));
        w.regions[region].restart(&mut w.net);
    }
}

/// A passenger's ride socket drops (the phone lost its network); it reopens soon.
fn drop_rider_socket(w: &mut World) {
    let open: Vec<usize> = (0..w.rides.len()).filter(|r| w.rides[*r].rider_socket.is_some()).collect();
    if let Some(ride) = w.net.sched.rng.pick(&open) {
        w.rides[ride].rider_socket = None;
        w.net.clients.rider_closed(ride, &mut w.net.sched);
    }
}
