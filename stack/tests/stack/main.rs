//! Tests of the synthesized stack: its intent (structure), that every reference resolves, and
//! that the real linters (cfn-lint, `sam validate --lint`) accept it with zero findings.

mod controller;
mod eval;
mod fsbp;
mod hardening;
mod lint;
mod references;
mod structure;
