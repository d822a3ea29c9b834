//! `cargo xtask check`: the guard rules and the reachability flows on every template of `templates/`,
//! the IAM proof of the stack's roles on the stack's template, and checkov (the IaC scanner the
//! resources' waivers are written for) and AWS's published rule sets (the Control Tower proactive
//! controls and the Guard Rules Registry, `policy::published`) on the stack's template.
//! `cargo xtask bench-check`: the same check, timed in-process.

use std::io::Write;
use std::time::{Duration, Instant};

pub fn run(verbose: bool) -> crate::Result {
    let dir = crate::project::root().join("templates");
    let mut failed = 0;
    // Written through a handle so that a closed pipe (`| head`) is an error, not a panic.
    let mut out = std::io::stdout().lock();
    for (path, report) in policy::check_dir(&dir)? {
        writeln!(out, "== {}", path.display())?;
        if verbose {
            write!(out, "{}", report.flow_paths())?;
        }
        write!(out, "{report}")?;
        failed += report.failures().len();
    }
    // Every call the emulator tests recorded is allowed by its principal's policies, and every
    // call outside a principal's job is denied (policy/iam/, run with Node).
    let path = crate::project::root().join(stack::TEMPLATE_PATH);
    let template: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let iam = policy::iam::prove(&template, &policy::iam::committed_cases()?)?;
    writeln!(out, "== {} (IAM)", path.display())?;
    write!(out, "{iam}")?;
    failed += iam.failures().len();
    // Every checkov finding is fixed or waived in the resource's Metadata, with its reason.
    let scan = crate::scan::scan(std::slice::from_ref(&path))?;
    writeln!(out, "== {} (checkov)", path.display())?;
    write!(out, "{scan}")?;
    failed += scan.failed.len();
    failed += published(&mut out, &path, &template)?;
    if failed > 0 {
        return Err(format!("{failed} failure(s): the template is not safe to deploy (see above: resource, rule, fix)").into());
    }
    Ok(())
}

/// AWS's published rule sets: a registry finding must be suppressed in the resource's metadata
/// (with its reason), a Control Tower failure must have its row in docs/governed-account.md
/// (Control Tower has no suppression). Returns the unexplained findings.
fn published(
    out: &mut impl Write,
    path: &std::path::Path,
    template: &serde_json::Value,
) -> crate::Result<usize> {
    use policy::published::{Standing, Suite};
    let rows = policy::published::explanations()?;
    let mut unexplained = 0;
    for suite in Suite::ALL {
        let report = policy::published::run(suite, template)?;
        writeln!(out, "== {} ({})", path.display(), suite.name())?;
        let (pass, fail, skip) = report.counts();
        let (explained, open) = report.explained(template, &rows);
        writeln!(
            out,
            "{}: {pass} pass, {fail} fail ({} explained), {skip} skip",
            suite.name(),
            explained.len()
        )?;
        for o in &explained {
            let why = match suite {
                Suite::ControlTower => {
                    rows.iter()
                        .find(|r| r.control == o.control)
                        .map_or(String::new(), |r| match &r.standing {
                            Standing::Parameter(names) => {
                                format!("met by the profile's {}", names.join(", "))
                            }
                            Standing::Intrinsics => {
                                "met; the rule cannot evaluate the Ref/Fn::If (resolved, it passes)"
                                    .into()
                            }
                            Standing::ByDesign => "incompatible by design: exempt it".into(),
                            Standing::Fixed => "fixed".into(),
                        })
                }
                Suite::Registry => {
                    "suppressed with its reason on each resource, which this rule ignores".into()
                }
            };
            writeln!(
                out,
                "  • {} on {} — {why}",
                o.control,
                o.resources.join(", ")
            )?;
        }
        for o in &open {
            let how = match suite {
                Suite::ControlTower => "add its row to docs/governed-account.md, or fix it",
                Suite::Registry => {
                    "fix it, or waive it in the resource's Metadata (stack: Waiver::guard)"
                }
            };
            writeln!(
                out,
                "  ✗ {} ({}) on {}: unexplained — {how}",
                o.control,
                o.rule,
                o.resources.join(", ")
            )?;
        }
        unexplained += open.len();
    }
    Ok(unexplained)
}

pub fn bench(iterations: u32) -> crate::Result {
    let iterations = iterations as usize;
    let dir = crate::project::root().join("templates");
    let mut whole = Vec::with_capacity(iterations);
    for _ in 0..iterations.max(1) {
        let start = Instant::now();
        let reports = policy::check_dir(&dir)?;
        whole.push(start.elapsed());
        std::hint::black_box(reports);
    }
    whole.sort();
    // The two halves separately, on the first template: where the time goes.
    let reports = policy::check_dir(&dir)?;
    let text = std::fs::read_to_string(&reports[0].0)?;
    let template: serde_json::Value = serde_json::from_str(&text)?;
    let (mut guard, mut reach) = (Vec::new(), Vec::new());
    for _ in 0..iterations.max(1) {
        let start = Instant::now();
        std::hint::black_box(policy::guard::evaluate(&template)?);
        guard.push(start.elapsed());
        let start = Instant::now();
        std::hint::black_box(policy::reachability::analyze_all(&template)?);
        reach.push(start.elapsed());
    }
    guard.sort();
    reach.sort();
    let (rules, flows): (usize, usize) = reports.iter().fold((0, 0), |(r, f), (_, rep)| {
        (r + rep.rules.len(), f + rep.flows.len())
    });
    println!(
        "check of {} template(s) ({rules} guard rules, {flows} flows), {} iterations: min {}, median {}, max {}",
        reports.len(),
        whole.len(),
        ms(whole[0]),
        ms(whole[whole.len() / 2]),
        ms(whole[whole.len() - 1]),
    );
    println!(
        "  guard rules alone: min {}, median {}",
        ms(guard[0]),
        ms(guard[guard.len() / 2])
    );
    println!(
        "  reachability alone: min {}, median {}",
        ms(reach[0]),
        ms(reach[reach.len() / 2])
    );
    Ok(())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
