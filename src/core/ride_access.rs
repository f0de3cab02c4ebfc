//! Who may see and list which rides.

use super::identity::{Caller, Role};
use super::ride::Ride;

/// Whether `caller` may see `ride`: its passenger, its partner, its assigned
/// driver, a driver it was offered to, or any dispatcher.
pub fn can_view(ride: &Ride, caller: &Caller, offered_to: &[String]) -> bool {
    match caller.role {
        Role::Dispatcher => true,
        Role::Passenger => ride.passenger.id.as_deref() == Some(caller.sub.as_str()),
        Role::Partner => ride.partner_id.as_deref() == Some(caller.sub.as_str()),
        Role::Driver => ride.driver.as_ref().is_some_and(|d| d.id == caller.sub) || offered_to.contains(&caller.sub),
    }
}

/// Which rides a list request covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListScope {
    /// Every ride (dispatchers).
    All,
    /// The rides of one passenger.
    Passenger(String),
    /// The rides one partner created.
    Partner(String),
}

impl ListScope {
    /// The scope of `caller`'s list, or `None` when its role may not list rides.
    pub fn of(caller: &Caller) -> Option<ListScope> {
        match caller.role {
            Role::Dispatcher => Some(ListScope::All),
            Role::Passenger => Some(ListScope::Passenger(caller.sub.clone())),
            Role::Partner => Some(ListScope::Partner(caller.sub.clone())),
            Role::Driver => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ride::RideRecord;
    use crate::core::ride_request::tests::{new_ride, partner_ride};

    fn caller(role: Role, sub: &str) -> Caller {
        Caller { sub: sub.into(), role, name: None }
    }

    #[test]
    fn a_passenger_sees_only_its_own_ride() {
        let (record, _) = RideRecord::create("r".into(), new_ride(), &caller(Role::Passenger, "p1"), 0);
        assert!(can_view(&record.ride, &caller(Role::Passenger, "p1"), &[]));
        assert!(!can_view(&record.ride, &caller(Role::Passenger, "p2"), &[]));
    }

    #[test]
    fn a_partner_sees_only_the_rides_it_created() {
        let (record, _) = RideRecord::create("r".into(), partner_ride(), &caller(Role::Partner, "acme"), 0);
        assert!(can_view(&record.ride, &caller(Role::Partner, "acme"), &[]));
        assert!(!can_view(&record.ride, &caller(Role::Partner, "other"), &[]));
        assert!(!can_view(&record.ride, &caller(Role::Passenger, "acme"), &[]));
    }

    #[test]
    fn a_driver_sees_a_ride_only_once_offered_it() {
        let (record, _) = RideRecord::create("r".into(), new_ride(), &caller(Role::Passenger, "p1"), 0);
        assert!(!can_view(&record.ride, &caller(Role::Driver, "d1"), &[]));
        assert!(can_view(&record.ride, &caller(Role::Driver, "d1"), &["d1".into()]));
    }

    #[test]
    fn a_dispatcher_sees_every_ride() {
        let (record, _) = RideRecord::create("r".into(), new_ride(), &caller(Role::Passenger, "p1"), 0);
        assert!(can_view(&record.ride, &caller(Role::Dispatcher, "ops"), &[]));
    }

    #[test]
    fn drivers_may_not_list_rides() {
        assert_eq!(ListScope::of(&caller(Role::Driver, "d")), None);
        assert_eq!(ListScope::of(&caller(Role::Partner, "a")), Some(ListScope::Partner("a".into())));
    }
}
