//! Issue 14 items 3 and 4 through the real binary: no client holds a connection, the shutdown or
//! the logs for ever ([`connections`]), and no input is unbounded ([`inputs`]).

mod connections;
mod inputs;
