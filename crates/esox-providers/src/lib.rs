//! esox-providers
