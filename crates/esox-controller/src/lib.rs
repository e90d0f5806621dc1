//! esox-controller
