//! `cargo xtask diagram`: draws `docs/architecture.svg` from the synthesized stack, so the picture
//! cannot drift from what `sam deploy` creates. Every box is a resource of the template and every
//! arrow a reference between resources; `cargo xtask synth` writes it too and `synth --check`
//! (and its test) fails when the committed picture is stale.

mod edges;
mod svg;

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use edges::edges;
use svg::{Rect, Style, Svg};

/// The picture, relative to the workspace root.
pub const PATH: &str = "docs/architecture.svg";

const NETWORK: &str = "#f4f8fb";
const PUBLIC: &str = "#e8f5e9";
const PRIVATE: &str = "#e3f2fd";
const CONTROLLER: &str = "#fff8e1";
const EDGE: &str = "#ffe0b2";
const COMPUTE: &str = "#ffffff";

pub fn run() -> crate::Result {
    let path = crate::project::root().join(PATH);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(
        &path,
        render(&stack::synthesize(&stack::Options::default()).to_json())?,
    )?;
    println!("wrote {PATH}");
    Ok(())
}

/// The picture of a template (its JSON form).
pub fn render(template: &Value) -> crate::Result<String> {
    let model = Model::new(template)?;
    Ok(draw(&model))
}

/// The template's resources, read for drawing.
struct Model<'a> {
    resources: &'a Map<String, Value>,
}

impl<'a> Model<'a> {
    fn new(template: &'a Value) -> crate::Result<Model<'a>> {
        let resources = template
            .get("Resources")
            .and_then(Value::as_object)
            .ok_or("the template has no Resources")?;
        Ok(Model { resources })
    }

    /// Logical IDs of one type, in template order.
    fn of_type(&self, kind: &str) -> Vec<&'a str> {
        self.resources
            .iter()
            .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
            .map(|(id, _)| id.as_str())
            .collect()
    }

    fn properties(&self, id: &str) -> &'a Value {
        &self.resources[id]["Properties"]
    }

    fn condition(&self, id: &str) -> Option<&'a str> {
        self.resources[id].get("Condition").and_then(Value::as_str)
    }

    /// Every resource that `value` refers to (Ref, Fn::GetAtt, `${…}` in Fn::Sub).
    fn refs(&self, value: &Value) -> BTreeSet<&'a str> {
        let mut names = BTreeSet::new();
        collect_refs(value, &mut names);
        names
            .into_iter()
            .filter_map(|name| self.resources.get_key_value(name.as_str()))
            .map(|(id, _)| id.as_str())
            .collect()
    }

    /// Resources of `kind` that `id`'s properties refer to.
    fn refs_of_type(&self, id: &str, kind: &str) -> Vec<&'a str> {
        let targets = self.of_type(kind);
        let refs = self.refs(self.properties(id));
        targets.into_iter().filter(|t| refs.contains(t)).collect()
    }

    /// Subnets whose route table has a route through an internet gateway.
    fn public_subnets(&self) -> BTreeSet<&'a str> {
        let gateways: BTreeSet<&str> = self
            .of_type("AWS::EC2::InternetGateway")
            .into_iter()
            .collect();
        let public_tables: BTreeSet<&str> = self
            .of_type("AWS::EC2::Route")
            .into_iter()
            .filter(|route| {
                self.refs(self.properties(route))
                    .iter()
                    .any(|r| gateways.contains(r))
            })
            .flat_map(|route| self.refs_of_type(route, "AWS::EC2::RouteTable"))
            .collect();
        self.subnets_routed_by(&public_tables)
    }

    /// Subnets associated with any of `tables`.
    fn subnets_routed_by(&self, tables: &BTreeSet<&str>) -> BTreeSet<&'a str> {
        self.of_type("AWS::EC2::SubnetRouteTableAssociation")
            .into_iter()
            .filter(|a| {
                self.refs_of_type(a, "AWS::EC2::RouteTable")
                    .iter()
                    .any(|t| tables.contains(t))
            })
            .flat_map(|a| self.refs_of_type(a, "AWS::EC2::Subnet"))
            .collect()
    }

    /// The index of a subnet's AZ (`Fn::Select [i, Fn::GetAZs]`), 0 when not of that form.
    fn az_index(&self, subnet: &str) -> usize {
        self.properties(subnet)["AvailabilityZone"]["Fn::Select"][0]
            .as_u64()
            .map_or(0, |i| i as usize)
    }

    fn subtitle(&self, id: &str) -> String {
        let kind = self.resources[id]["Type"].as_str().unwrap_or_default();
        let short = kind.rsplit("::").next().unwrap_or(kind);
        match self.condition(id) {
            Some(condition) => format!("{short} (if {condition})"),
            None => short.to_owned(),
        }
    }

    fn style(&self, id: &str, fill: &'static str) -> Style {
        if self.condition(id).is_some() {
            Style::Conditional(fill)
        } else {
            Style::Node(fill)
        }
    }
}

fn collect_refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("Ref", Value::String(name)) => {
                        out.insert(name.clone());
                    }
                    ("Fn::GetAtt", Value::Array(parts)) => {
                        if let Some(Value::String(name)) = parts.first() {
                            out.insert(name.clone());
                        }
                    }
                    ("Fn::Sub", sub) => {
                        let text = match sub {
                            Value::String(text) => Some(text.as_str()),
                            Value::Array(parts) => parts.first().and_then(Value::as_str),
                            _ => None,
                        };
                        for name in text.into_iter().flat_map(sub_names) {
                            out.insert(name);
                        }
                        collect_refs(sub, out);
                    }
                    _ => collect_refs(inner, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

/// The resource names in a `Fn::Sub` string: `${Name}` and `${Name.Attribute}`.
fn sub_names(text: &str) -> Vec<String> {
    text.split("${")
        .skip(1)
        .filter_map(|rest| rest.split('}').next())
        .map(|inner| inner.split('.').next().unwrap_or(inner).to_owned())
        .collect()
}

/// Lays the model out: the VPC with one column per AZ on the left (public subnets, target groups,
/// private subnets), the controller on the right.
fn draw(model: &Model) -> String {
    let public = model.public_subnets();
    let subnets = model.of_type("AWS::EC2::Subnet");
    let azs = subnets
        .iter()
        .map(|s| model.az_index(s))
        .max()
        .map_or(1, |m| m + 1);
    let fleets = model.of_type("AWS::AutoScaling::AutoScalingGroup");

    let column_w = 380.0;
    let vpc_x = 20.0;
    let vpc_w = 40.0 + column_w * azs as f64 + 20.0 * (azs as f64 - 1.0);
    let column_x = |az: usize| vpc_x + 20.0 + az as f64 * (column_w + 20.0);
    let public_y = 180.0;
    let public_h = 175.0;
    let tg_y = public_y + public_h + 25.0;
    let private_y = tg_y + 70.0;
    let private_h = 45.0 + 55.0 * fleets.len().max(1) as f64;
    let endpoint_y = private_y + private_h + 20.0;
    let vpc_y = 140.0;
    let vpc_h = endpoint_y + 60.0 - vpc_y;
    let right_x = vpc_x + vpc_w + 40.0;
    let width = right_x + 420.0;
    let height = vpc_y + vpc_h + 20.0;

    let mut svg = Svg::new(width as u32, height as u32);
    svg.text(20.0, 28.0, 16, "start", true, "alb-canary — architecture");
    svg.text(
        20.0,
        46.0,
        11,
        "start",
        false,
        "Generated by `cargo xtask diagram` from the synthesized stack: boxes are resources (logical IDs), arrows are references; dashed boxes exist only under their condition.",
    );

    // The edge of the network: internet, gateway, WAF.
    let internet = Rect::new(vpc_x + vpc_w / 2.0 - 70.0, 62.0, 140.0, 30.0);
    svg.node(internet, Style::Area(EDGE), "Internet (clients)", "");
    let mut places: Vec<(&str, Rect)> = Vec::new();
    let vpc_label = model
        .of_type("AWS::EC2::VPC")
        .first()
        .map_or_else(|| "VPC".to_owned(), |id| format!("{id} (VPC)"));
    svg.rect(Rect::new(vpc_x, vpc_y, vpc_w, vpc_h), Style::Area(NETWORK));
    svg.text(vpc_x + 10.0, vpc_y + 20.0, 12, "start", true, &vpc_label);
    for igw in model.of_type("AWS::EC2::InternetGateway") {
        let r = Rect::new(vpc_x + vpc_w / 2.0 - 80.0, vpc_y - 22.0, 160.0, 40.0);
        place(&mut svg, model, &mut places, igw, r, EDGE);
        svg.arrow(internet, r, "");
    }

    for subnet in &subnets {
        let az = model.az_index(subnet);
        let (y, h, fill, kind) = if public.contains(subnet) {
            (public_y, public_h, PUBLIC, "public")
        } else {
            (private_y, private_h, PRIVATE, "private")
        };
        let r = Rect::new(column_x(az), y, column_w, h);
        svg.rect(r, Style::Area(fill));
        svg.text(
            r.x + 8.0,
            r.y + 16.0,
            11,
            "start",
            true,
            &format!("{subnet} ({kind}, AZ {})", az + 1),
        );
        places.push((subnet, r));
    }
    let span_x = column_x(0) + 10.0;
    let span_w = column_w * azs as f64 + 20.0 * (azs as f64 - 1.0) - 20.0;

    // Public subnets: the load balancer across them, its listeners, the NAT gateways in each.
    for alb in model.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer") {
        let r = Rect::new(span_x, public_y + 50.0, span_w, 40.0);
        place(&mut svg, model, &mut places, alb, r, COMPUTE);
    }
    let listeners = model.of_type("AWS::ElasticLoadBalancingV2::Listener");
    row(
        &mut svg,
        model,
        &mut places,
        &listeners,
        span_x,
        public_y + 115.0,
        span_w,
        COMPUTE,
    );
    for (i, nat) in model
        .of_type("AWS::EC2::NatGateway")
        .into_iter()
        .enumerate()
    {
        let subnet = model.refs_of_type(nat, "AWS::EC2::Subnet");
        let az = subnet.first().map_or(i, |s| model.az_index(s));
        let r = Rect::new(column_x(az) + column_w - 190.0, public_y + 5.0, 180.0, 40.0);
        place(&mut svg, model, &mut places, nat, r, COMPUTE);
    }

    // Target groups between the subnets, then one band per fleet across the private subnets.
    let groups = model.of_type("AWS::ElasticLoadBalancingV2::TargetGroup");
    row(
        &mut svg,
        model,
        &mut places,
        &groups,
        span_x,
        tg_y,
        span_w,
        COMPUTE,
    );
    for (i, fleet) in fleets.iter().enumerate() {
        let r = Rect::new(span_x, private_y + 30.0 + 55.0 * i as f64, span_w, 42.0);
        place(&mut svg, model, &mut places, fleet, r, COMPUTE);
    }
    let endpoints = model.of_type("AWS::EC2::VPCEndpoint");
    row(
        &mut svg,
        model,
        &mut places,
        &endpoints,
        span_x + span_w / 2.0,
        endpoint_y,
        span_w / 2.0,
        COMPUTE,
    );

    // Outside the VPC: the WAF, the artifact bucket and the controller.
    let wafs = model.of_type("AWS::WAFv2::WebACL");
    column(
        &mut svg,
        model,
        &mut places,
        &wafs,
        right_x,
        public_y + 20.0,
        EDGE,
    );
    let buckets = model.of_type("AWS::S3::Bucket");
    column(
        &mut svg,
        model,
        &mut places,
        &buckets,
        right_x,
        endpoint_y - 10.0,
        COMPUTE,
    );

    let ctl_top = public_y + 80.0;
    let boxes = model.of_type("AWS::Lambda::Function").len()
        + ["AWS::DynamoDB::Table", "AWS::SNS::Topic", "AWS::SQS::Queue"]
            .iter()
            .map(|kind| model.of_type(kind).len())
            .sum::<usize>();
    let ctl = Rect::new(right_x - 10.0, ctl_top, 410.0, 80.0 + 48.0 * boxes as f64);
    svg.rect(ctl, Style::Area(CONTROLLER));
    svg.text(
        ctl.x + 10.0,
        ctl.y + 18.0,
        12,
        "start",
        true,
        "Canary controller",
    );
    let alarms = model.of_type("AWS::CloudWatch::Alarm");
    let schedules = model.of_type("AWS::Scheduler::Schedule");
    let triggers: Vec<&str> = alarms.iter().chain(&schedules).copied().collect();
    column(
        &mut svg,
        model,
        &mut places,
        &triggers,
        right_x + 210.0,
        ctl_top + 30.0,
        CONTROLLER,
    );
    let functions = model.of_type("AWS::Lambda::Function");
    column(
        &mut svg,
        model,
        &mut places,
        &functions,
        right_x,
        ctl_top + 30.0,
        CONTROLLER,
    );
    let stores: Vec<&str> = ["AWS::DynamoDB::Table", "AWS::SNS::Topic", "AWS::SQS::Queue"]
        .iter()
        .flat_map(|kind| model.of_type(kind))
        .collect();
    let stores_y = ctl_top + 60.0 + 48.0 * functions.len().max(1) as f64;
    column(
        &mut svg,
        model,
        &mut places,
        &stores,
        right_x,
        stores_y,
        CONTROLLER,
    );

    for (from, to, label) in edges(model) {
        let find = |id: &str| places.iter().find(|(p, _)| *p == id).map(|(_, r)| *r);
        if let (Some(a), Some(b)) = (find(from), find(to)) {
            svg.arrow(a, b, label);
        }
    }
    svg.finish()
}

/// One resource's node at `r`, remembered for the arrows.
fn place<'a>(
    svg: &mut Svg,
    model: &Model,
    places: &mut Vec<(&'a str, Rect)>,
    id: &'a str,
    r: Rect,
    fill: &'static str,
) {
    svg.node(r, model.style(id, fill), id, &model.subtitle(id));
    places.push((id, r));
}

/// Nodes side by side across `w`.
#[allow(clippy::too_many_arguments)]
fn row<'a>(
    svg: &mut Svg,
    model: &Model,
    places: &mut Vec<(&'a str, Rect)>,
    ids: &[&'a str],
    x: f64,
    y: f64,
    w: f64,
    fill: &'static str,
) {
    let n = ids.len().max(1) as f64;
    let cell = w / n;
    for (i, id) in ids.iter().enumerate() {
        let r = Rect::new(x + cell * i as f64 + 5.0, y, cell - 10.0, 40.0);
        place(svg, model, places, id, r, fill);
    }
}

/// Nodes stacked from `(x, y)` down.
fn column<'a>(
    svg: &mut Svg,
    model: &Model,
    places: &mut Vec<(&'a str, Rect)>,
    ids: &[&'a str],
    x: f64,
    y: f64,
    fill: &'static str,
) {
    for (i, id) in ids.iter().enumerate() {
        let r = Rect::new(x, y + 48.0 * i as f64, 185.0, 40.0);
        place(svg, model, places, id, r, fill);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_names_reads_resources_and_attributes() {
        assert_eq!(
            sub_names("arn:${AWS::Partition}:x:${Bucket.Arn}/*${Other}"),
            vec!["AWS::Partition", "Bucket", "Other"]
        );
    }

    #[test]
    fn every_drawn_reference_is_one_the_template_has() {
        let template = stack::synthesize(&stack::Options::default()).to_json();
        let model = Model::new(&template).unwrap();
        let edges = edges(&model);
        assert!(edges.len() > 10, "{edges:?}");
        for (from, to, _) in &edges {
            assert!(model.resources.contains_key(*from) && model.resources.contains_key(*to));
        }
        // The canary's control loop is in the picture: alarm → rollback, schedule → promote,
        // both functions → the listener they move.
        let has = |from: &str, to: &str| edges.iter().any(|(f, t, _)| *f == from && *t == to);
        assert!(has("CanaryErrorRateAlarm", "RollbackFunction"));
        assert!(has("PromotionSchedule", "PromotionFunction"));
        assert!(
            has("PromotionFunction", "HttpListener") && has("RollbackFunction", "HttpListener")
        );
        assert!(has("TargetGroupV1", "AutoScalingGroupV1"));
    }

    #[test]
    fn public_and_private_subnets_come_from_the_routes() {
        let template = stack::synthesize(&stack::Options::default()).to_json();
        let model = Model::new(&template).unwrap();
        let public: Vec<&str> = model.public_subnets().into_iter().collect();
        assert_eq!(public, vec!["PublicSubnet1", "PublicSubnet2"]);
        assert_eq!(model.az_index("PrivateSubnet2"), 1);
    }
}
