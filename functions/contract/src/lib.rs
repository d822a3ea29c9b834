//! What the synthesized stack and the controller functions agree on: the environment variables
//! the functions read at cold start, the canary plan's JSON form, metric and table names.
//! Both sides use these values, so a name is never typed twice.
