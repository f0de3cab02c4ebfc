//! Who is calling: the verified identity a token carries.

use serde::{Deserialize, Serialize};

/// The four kinds of client the protocol knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A person who books rides for themself.
    Passenger,
    /// A driver who is offered and carries out rides.
    Driver,
    /// A partner system creating rides for its customers.
    Partner,
    /// A dispatcher's console that sees and manages everything.
    Dispatcher,
}

impl Role {
    /// The wire name of the role.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Passenger => "passenger",
            Role::Driver => "driver",
            Role::Partner => "partner",
            Role::Dispatcher => "dispatcher",
        }
    }
}

/// A verified caller: the token's `sub`, `role` and optional display `name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caller {
    /// The subject: a passenger's, driver's, partner's or dispatcher's id.
    pub sub: String,
    /// What the caller is.
    pub role: Role,
    /// Display name from the token, when it has one.
    pub name: Option<String>,
}

impl Caller {
    /// Whether the caller's role is one of `roles`.
    pub fn is_one_of(&self, roles: &[Role]) -> bool {
        roles.contains(&self.role)
    }
}
