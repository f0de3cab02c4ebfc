//! Calls between objects declared once: each call names its path, its
//! request type and its answer type in one [`do_calls!`] line (daphne's
//! `define_do_binding!` habit), so the caller and the Durable Object decode
//! the same types and a refusal travels as a typed value, never as an HTTP
//! error parsed back into a reason.

use serde::{de::DeserializeOwned, Serialize};

/// One call a Durable Object answers.
pub trait DoCall {
    /// The internal path the call is sent to.
    const PATH: &'static str;
    /// What the caller sends.
    type Request: Serialize + DeserializeOwned;
    /// What the object answers.
    type Answer: Serialize + DeserializeOwned;
}

/// An answer without content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Done {}

/// Declares a route enum of an object's calls and, per call, a marker type
/// implementing [`DoCall`] with its path, request and answer:
/// `Claim = "/claim", ClaimRequest => ClaimAnswer;`.
#[macro_export]
macro_rules! do_calls {
    ($(#[$meta:meta])* $vis:vis enum $route:ident {
        $( $(#[$call_meta:meta])* $call:ident = $path:literal, $request:ty => $answer:ty; )+
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $route { $( $(#[$call_meta])* $call, )+ }

        impl $route {
            /// Every call, in declaration order.
            pub const ALL: &'static [$route] = &[$( $route::$call, )+];

            /// The internal path of the call.
            pub fn path(self) -> &'static str {
                match self { $( $route::$call => $path, )+ }
            }

            /// The call an internal path names.
            pub fn from_path(path: &str) -> Option<$route> {
                Self::ALL.iter().copied().find(|call| call.path() == path)
            }
        }

        /// One marker type per call of the route enum, implementing `DoCall`.
        pub mod calls {
            #[allow(unused_imports)]
            use super::*;
            $(
                $(#[$call_meta])*
                #[derive(Debug, Clone, Copy)]
                pub struct $call;
                impl $crate::do_call::DoCall for $call {
                    const PATH: &'static str = $path;
                    type Request = $request;
                    type Answer = $answer;
                }
            )+
        }
    };
}

/// Sends call `C` to the object behind `stub` and decodes its answer.
pub async fn send<C: DoCall>(stub: &worker::Stub, request: &C::Request) -> Result<C::Answer, crate::error::AppError> {
    crate::do_http::post_json(stub, C::PATH, request).await
}
