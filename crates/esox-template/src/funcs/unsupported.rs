//! Functions of ESO's function list that esox does not implement yet. They
//! are defined (so a template using them parses), and fail when called with
//! an error that names the function and the reason; they never fake a result.

use super::{Registry, Ty};

/// (function, reason) for every function of ESO's list esox does not support yet.
pub const UNSUPPORTED: &[(&str, &str)] = &[];

pub fn register(r: &mut Registry) {
    for (name, _) in UNSUPPORTED {
        r.add(name, &[], Some(Ty::Any), |_| Err(String::new()));
    }
}

/// The reason a function is not supported, if it is one of those.
pub fn reason(name: &str) -> Option<&'static str> {
    UNSUPPORTED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, r)| *r)
}
