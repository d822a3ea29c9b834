//! EC2 networking: VPC, subnets, gateways, routes, the S3 gateway endpoint, NACLs and security groups.

use serde::Serialize;

use super::iam::PolicyDocument;
use super::{Tag, resource};
use crate::cfn::Expr;

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Vpc {
    pub cidr_block: Expr,
    pub enable_dns_support: bool,
    pub enable_dns_hostnames: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(
    Vpc,
    "AWS::EC2::VPC",
    [
        "CidrBlock",
        "VpcId",
        "DefaultNetworkAcl",
        "DefaultSecurityGroup"
    ]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subnet {
    pub vpc_id: Expr,
    pub cidr_block: Expr,
    pub availability_zone: Expr,
    pub map_public_ip_on_launch: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(
    Subnet,
    "AWS::EC2::Subnet",
    ["SubnetId", "AvailabilityZone", "VpcId"]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InternetGateway {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(
    InternetGateway,
    "AWS::EC2::InternetGateway",
    ["InternetGatewayId"]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcGatewayAttachment {
    pub vpc_id: Expr,
    pub internet_gateway_id: Expr,
}
resource!(VpcGatewayAttachment, "AWS::EC2::VPCGatewayAttachment", []);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Eip {
    pub domain: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(Eip, "AWS::EC2::EIP", ["AllocationId", "PublicIp"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NatGateway {
    pub allocation_id: Expr,
    pub subnet_id: Expr,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(NatGateway, "AWS::EC2::NatGateway", ["NatGatewayId"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RouteTable {
    pub vpc_id: Expr,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(RouteTable, "AWS::EC2::RouteTable", ["RouteTableId"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Route {
    pub route_table_id: Expr,
    pub destination_cidr_block: Expr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateway_id: Option<Expr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<Expr>,
}
resource!(Route, "AWS::EC2::Route", []);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubnetRouteTableAssociation {
    pub subnet_id: Expr,
    pub route_table_id: Expr,
}
resource!(
    SubnetRouteTableAssociation,
    "AWS::EC2::SubnetRouteTableAssociation",
    []
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcEndpoint {
    pub vpc_id: Expr,
    pub service_name: Expr,
    pub vpc_endpoint_type: &'static str,
    /// Gateway endpoints: the route tables that get the service's prefix list.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub route_table_ids: Vec<Expr>,
    /// Interface endpoints: one network interface per subnet...
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subnet_ids: Vec<Expr>,
    /// ...behind these groups...
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_group_ids: Vec<Expr>,
    /// ...and answering for the service's public name inside the VPC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_dns_enabled: Option<bool>,
    pub policy_document: PolicyDocument,
}
resource!(VpcEndpoint, "AWS::EC2::VPCEndpoint", ["Id"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkAcl {
    pub vpc_id: Expr,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(NetworkAcl, "AWS::EC2::NetworkAcl", ["Id"]);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortRange {
    pub from: u16,
    pub to: u16,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkAclEntry {
    pub network_acl_id: Expr,
    pub rule_number: u16,
    /// IANA protocol number; 6 is TCP.
    pub protocol: i32,
    pub rule_action: &'static str,
    pub egress: bool,
    pub cidr_block: Expr,
    pub port_range: PortRange,
}
resource!(NetworkAclEntry, "AWS::EC2::NetworkAclEntry", []);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubnetNetworkAclAssociation {
    pub subnet_id: Expr,
    pub network_acl_id: Expr,
}
resource!(
    SubnetNetworkAclAssociation,
    "AWS::EC2::SubnetNetworkAclAssociation",
    ["AssociationId"]
);

/// One inline rule of a security group (ingress or egress).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SgRule {
    pub ip_protocol: &'static str,
    pub from_port: u16,
    pub to_port: u16,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cidr_ip: Option<Expr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_security_group_id: Option<Expr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_security_group_id: Option<Expr>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroup {
    pub group_description: String,
    pub vpc_id: Expr,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub security_group_ingress: Vec<SgRule>,
    /// Declared even when the rules live in separate resources: a group without inline egress
    /// gets AWS's default allow-all egress rule.
    pub security_group_egress: Vec<SgRule>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}
resource!(
    SecurityGroup,
    "AWS::EC2::SecurityGroup",
    ["GroupId", "VpcId"]
);

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecurityGroupIngress {
    pub group_id: Expr,
    #[serde(flatten)]
    pub rule: SgRule,
}
resource!(
    SecurityGroupIngress,
    "AWS::EC2::SecurityGroupIngress",
    ["Id"]
);
