//! SSRF guard and per-account fairness of webhook deliveries.
