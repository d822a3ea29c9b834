//! Canary controller shared library.
