//! Fault injection: make matching API calls fail or slow down.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to do to a matching request.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// Answer with a `Status` error of this code, reason and message.
    Fail {
        code: u16,
        reason: String,
        message: String,
    },
    /// Wait this long before serving the request normally.
    Delay(Duration),
}

/// Which requests a fault applies to; `None` fields match anything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultMatch {
    /// Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: Option<String>,
    /// Resource plural, e.g. `secrets`.
    pub resource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone)]
struct Rule {
    id: u64,
    matcher: FaultMatch,
    action: FaultAction,
    remaining: Option<u32>,
    hits: u64,
}

/// A shared, cloneable handle to the fault rules of one cluster.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    rules: Arc<Mutex<(u64, Vec<Rule>)>>,
}

/// Identifies an added fault so it can be removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultId(u64);

impl Faults {
    /// Adds a fault; `times` limits how many requests it hits (None: until removed).
    pub fn add(&self, matcher: FaultMatch, action: FaultAction, times: Option<u32>) -> FaultId {
        let mut g = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        g.0 += 1;
        let id = g.0;
        g.1.push(Rule {
            id,
            matcher,
            action,
            remaining: times,
            hits: 0,
        });
        FaultId(id)
    }

    /// Makes matching calls fail with `code` (e.g. 500 InternalError, 429 TooManyRequests).
    pub fn fail(&self, matcher: FaultMatch, code: u16, times: Option<u32>) -> FaultId {
        let reason = match code {
            429 => "TooManyRequests",
            503 => "ServiceUnavailable",
            504 => "Timeout",
            409 => "Conflict",
            404 => "NotFound",
            403 => "Forbidden",
            _ => "InternalError",
        };
        self.add(
            matcher,
            FaultAction::Fail {
                code,
                reason: reason.into(),
                message: format!("injected fault ({code})"),
            },
            times,
        )
    }

    pub fn delay(&self, matcher: FaultMatch, by: Duration, times: Option<u32>) -> FaultId {
        self.add(matcher, FaultAction::Delay(by), times)
    }

    pub fn remove(&self, id: FaultId) {
        let mut g = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        g.1.retain(|r| r.id != id.0);
    }

    /// How many requests fault `id` has hit so far (0 once it is removed or expired): lets a
    /// test wait until the code under test has met the fault instead of sleeping.
    pub fn hits(&self, id: FaultId) -> u64 {
        let g = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        g.1.iter().find(|r| r.id == id.0).map_or(0, |r| r.hits)
    }

    pub fn clear(&self) {
        self.rules
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clear();
    }

    /// The actions for a request, consuming one use of each counted rule.
    pub(crate) fn check(
        &self,
        verb: &str,
        resource: &str,
        namespace: &str,
        name: &str,
    ) -> Vec<FaultAction> {
        let mut g = self.rules.lock().unwrap_or_else(|p| p.into_inner());
        if g.1.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for r in g.1.iter_mut() {
            let m = &r.matcher;
            let ok = m.verb.as_deref().is_none_or(|v| v == verb)
                && m.resource.as_deref().is_none_or(|v| v == resource)
                && m.namespace.as_deref().is_none_or(|v| v == namespace)
                && m.name.as_deref().is_none_or(|v| v == name);
            if ok && r.remaining != Some(0) {
                if let Some(n) = r.remaining.as_mut() {
                    *n -= 1;
                }
                r.hits += 1;
                out.push(r.action.clone());
            }
        }
        g.1.retain(|r| r.remaining != Some(0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_expire() {
        let f = Faults::default();
        f.fail(
            FaultMatch {
                verb: Some("get".into()),
                ..Default::default()
            },
            500,
            Some(1),
        );
        assert!(f.check("list", "secrets", "a", "").is_empty());
        assert_eq!(f.check("get", "secrets", "a", "b").len(), 1);
        assert!(f.check("get", "secrets", "a", "b").is_empty());
    }
}
