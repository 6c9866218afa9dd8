//! Clients (CLI, bots, desktop) derive and send the reveal proof; the CLI never prints control characters it did not choose.
