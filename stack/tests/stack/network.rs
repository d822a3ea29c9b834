//! The network of `docs/network.md`: the VPC, two public and two private subnets in two AZs, their routes to
//! the internet gateway and the NAT gateways, and the S3 gateway endpoint.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::addresses::{ANYWHERE, PRIVATE, PUBLIC};
use crate::eval::{Eval, get_att, r#ref};
use crate::nacls_and_security_groups::nacl_rules;

fn az_index(subnet: &Value) -> u64 {
    let select = &subnet["AvailabilityZone"]["Fn::Select"];
    assert_eq!(
        select[1],
        json!({ "Fn::GetAZs": "" }),
        "AZ from Fn::GetAZs, not hard-coded"
    );
    select[0].as_u64().unwrap()
}

#[test]
fn vpc_and_four_subnets_in_two_azs_with_spec_cidrs() {
    let eval = Eval::defaults();
    let vpcs = eval.resources("AWS::EC2::VPC");
    assert_eq!(vpcs.len(), 1);
    assert_eq!(vpcs[0].1["CidrBlock"], "10.0.0.0/16");
    assert_eq!(vpcs[0].1["EnableDnsSupport"], true);
    assert_eq!(vpcs[0].1["EnableDnsHostnames"], true);

    let subnets = eval.resources("AWS::EC2::Subnet");
    assert_eq!(subnets.len(), 4);
    let public = [
        eval.resource("PublicSubnet1"),
        eval.resource("PublicSubnet2"),
    ];
    let private = [
        eval.resource("PrivateSubnet1"),
        eval.resource("PrivateSubnet2"),
    ];
    for i in 0..2 {
        assert_eq!(public[i]["CidrBlock"], PUBLIC[i]);
        assert_eq!(private[i]["CidrBlock"], PRIVATE[i]);
        assert_eq!(public[i]["MapPublicIpOnLaunch"], false);
        assert_eq!(private[i]["MapPublicIpOnLaunch"], false);
        // Private subnet i sits in the same AZ as public subnet i.
        assert_eq!(az_index(&public[i]), az_index(&private[i]));
    }
    assert_ne!(
        az_index(&public[0]),
        az_index(&public[1]),
        "two distinct AZs"
    );
}

#[test]
fn cidr_parameters_flow_into_subnets() {
    let eval = Eval::new(&[("PrivateSubnet2Cidr", "10.0.99.0/24")]);
    assert_eq!(eval.resource("PrivateSubnet2")["CidrBlock"], "10.0.99.0/24");
    // ... and into the NACL rules that name that subnet.
    assert!(nacl_rules(&eval, "PublicNacl").contains(&(true, "10.0.99.0/24".into(), 8000, 8000)));
}

fn default_route(eval: &Eval, table: &str) -> Value {
    let routes: Vec<Value> = eval
        .resources("AWS::EC2::Route")
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| p["RouteTableId"] == r#ref(table) && p["DestinationCidrBlock"] == ANYWHERE)
        .collect();
    assert_eq!(routes.len(), 1, "one default route in {table}");
    routes[0].clone()
}

fn table_of(eval: &Eval, subnet: &str) -> String {
    let assoc: Vec<Value> = eval
        .resources("AWS::EC2::SubnetRouteTableAssociation")
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| p["SubnetId"] == r#ref(subnet))
        .collect();
    assert_eq!(assoc.len(), 1, "{subnet} has one route table");
    assoc[0]["RouteTableId"]["Ref"].as_str().unwrap().to_owned()
}

#[test]
fn public_subnets_route_to_the_internet_gateway_private_ones_to_nat() {
    for (mode, nat_count) in [("single", 1), ("per-az", 2)] {
        let eval = Eval::new(&[("NatGateways", mode)]);
        assert_eq!(eval.resources("AWS::EC2::InternetGateway").len(), 1);
        let nats = eval.resources("AWS::EC2::NatGateway");
        assert_eq!(nats.len(), nat_count, "NatGateways={mode}");
        assert_eq!(eval.resources("AWS::EC2::EIP").len(), nat_count);
        for (_, nat) in &nats {
            let subnet = nat["SubnetId"]["Ref"].as_str().unwrap();
            assert!(subnet.starts_with("PublicSubnet"), "NAT in a public subnet");
        }
        for subnet in ["PublicSubnet1", "PublicSubnet2"] {
            let route = default_route(&eval, &table_of(&eval, subnet));
            assert_eq!(route["GatewayId"], r#ref("InternetGateway"));
        }
        let mut used = BTreeSet::new();
        for subnet in ["PrivateSubnet1", "PrivateSubnet2"] {
            let route = default_route(&eval, &table_of(&eval, subnet));
            assert!(
                route.get("GatewayId").is_none(),
                "no IGW route in a private subnet"
            );
            used.insert(route["NatGatewayId"]["Ref"].as_str().unwrap().to_owned());
        }
        assert_eq!(
            used.len(),
            nat_count,
            "each AZ uses its own NAT only with per-az"
        );
    }
}

#[test]
fn s3_gateway_endpoint_serves_the_private_route_tables_and_only_the_artifact_bucket() {
    let eval = Eval::defaults();
    let endpoints = eval.resources("AWS::EC2::VPCEndpoint");
    assert_eq!(endpoints.len(), 1);
    let endpoint = &endpoints[0].1;
    assert_eq!(endpoint["VpcEndpointType"], "Gateway");
    assert_eq!(
        endpoint["ServiceName"],
        json!({ "Fn::Sub": "com.amazonaws.${AWS::Region}.s3" })
    );
    let tables: BTreeSet<String> = endpoint["RouteTableIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["Ref"].as_str().unwrap().to_owned())
        .collect();
    let private_tables: BTreeSet<String> = ["PrivateSubnet1", "PrivateSubnet2"]
        .iter()
        .map(|s| table_of(&eval, s))
        .collect();
    assert_eq!(tables, private_tables);
    // The artifact bucket, and the AWS-owned buckets Session Manager and patching read: nothing else.
    let ssm_objects: Vec<Value> = stack::storage::SSM_BUCKETS
        .iter()
        .map(|b| json!({ "Fn::Sub": format!("arn:${{AWS::Partition}}:s3:::{b}/*") }))
        .collect();
    let statements = endpoint["PolicyDocument"]["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2);
    for statement in statements {
        assert_eq!(statement["Effect"], "Allow");
        assert!(statement.get("Condition").is_none());
    }
    assert_eq!(
        statements[0]["Resource"],
        json!([get_att("ArtifactBucket", "Arn"), { "Fn::Sub": "${ArtifactBucket.Arn}/*" }])
    );
    assert_eq!(
        statements[0]["Action"],
        json!(["s3:GetObject", "s3:ListBucket"])
    );
    assert_eq!(statements[1]["Resource"], Value::Array(ssm_objects));
    assert_eq!(statements[1]["Action"], json!(["s3:GetObject"]));
}
