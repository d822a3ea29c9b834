//! Tests of the synthesized stack: its intent, part by part (network, NACLs and security groups,
//! load balancer, compute, storage, controller, outputs), that every reference resolves, and that
//! the real linters (cfn-lint, `sam validate --lint`) accept it with zero findings.

mod addresses;
mod compute;
mod controller;
mod eval;
mod fsbp;
mod governed;
mod hardening;
mod lint;
mod load_balancer;
mod nacls_and_security_groups;
mod network;
mod outputs;
mod references;
mod storage;
