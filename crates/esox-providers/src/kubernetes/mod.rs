//! ESO's Kubernetes provider (work in progress).
