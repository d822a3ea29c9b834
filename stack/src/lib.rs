//! Typed CloudFormation model and the alb-canary stack definition.
