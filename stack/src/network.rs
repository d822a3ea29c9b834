//! VPC, two public and two private subnets in two AZs, internet gateway, NAT, route tables.

use crate::cfn::resources::{
    Eip, InternetGateway, NatGateway, Route, RouteTable, Subnet, SubnetRouteTableAssociation, Vpc,
    VpcGatewayAttachment, name_tag,
};
use crate::cfn::{Attributes, Expr, Fsbp, Handle, Sub, Template, Waiver};
use crate::parameters::{Conditions, Parameters};

pub struct Network {
    pub vpc: Handle<Vpc>,
    /// Index 0 and 1 are the first and second AZ.
    pub public_subnets: [Handle<Subnet>; 2],
    pub private_subnets: [Handle<Subnet>; 2],
    pub private_route_tables: [Handle<RouteTable>; 2],
    /// The private subnets' default routes through NAT: the Docker host needs them for packages.
    pub private_default_routes: [Handle<Route>; 2],
    /// Public resources (the ALB, NAT's addresses) need the gateway attached before they exist.
    pub igw_attachment: Handle<VpcGatewayAttachment>,
    /// Index 0 and 1 are the first and second private subnet's route-table association.
    pub private_route_associations: [Handle<SubnetRouteTableAssociation>; 2],
}

fn stack_name(suffix: &str) -> Expr {
    Sub::new(format!("${{AWS::StackName}}-{suffix}")).build()
}

pub fn build(template: &mut Template, params: &Parameters, conds: &Conditions) -> Network {
    let vpc = template.add_with(
        "Vpc",
        Vpc {
            cidr_block: params.vpc_cidr.r#ref(),
            enable_dns_support: true,
            enable_dns_hostnames: true,
            tags: name_tag(stack_name("vpc")),
        },
        Attributes::new().waive(&[Waiver {
            control: Fsbp::Waived("EC2.2"),
            checkov: &["CKV2_AWS_12"],
            cfn_nag: &[],
            guard: &[],
            reason: "CloudFormation cannot remove the rules of a VPC's default security group, and nothing in this stack uses that group",
        }]),
    );
    let (public_subnets, private_subnets) = subnets(template, params, &vpc);
    let attachment = internet_access(template, &vpc, &public_subnets);
    let nat_for_az = nat_gateways(template, conds, &attachment, &public_subnets);
    let (private_route_tables, private_default_routes, private_route_associations) =
        private_routes(template, &vpc, &private_subnets, &nat_for_az);
    Network {
        vpc,
        public_subnets,
        private_subnets,
        private_route_tables,
        private_default_routes,
        igw_attachment: attachment,
        private_route_associations,
    }
}

/// Two public and two private subnets, one of each per AZ.
fn subnets(
    template: &mut Template,
    params: &Parameters,
    vpc: &Handle<Vpc>,
) -> ([Handle<Subnet>; 2], [Handle<Subnet>; 2]) {
    // No subnet maps public IPs: the ALB and the NAT gateways get theirs from AWS.
    let subnet = |template: &mut Template, id: &str, cidr: Expr, az: u32| {
        template.add(
            id,
            Subnet {
                vpc_id: vpc.r#ref(),
                cidr_block: cidr,
                availability_zone: Expr::availability_zone(az),
                map_public_ip_on_launch: false,
                tags: name_tag(stack_name(&id.to_lowercase())),
            },
        )
    };
    let public_subnets = [
        subnet(
            template,
            "PublicSubnet1",
            params.public_subnet_cidrs[0].r#ref(),
            0,
        ),
        subnet(
            template,
            "PublicSubnet2",
            params.public_subnet_cidrs[1].r#ref(),
            1,
        ),
    ];
    let private_subnets = [
        subnet(
            template,
            "PrivateSubnet1",
            params.private_subnet_cidrs[0].r#ref(),
            0,
        ),
        subnet(
            template,
            "PrivateSubnet2",
            params.private_subnet_cidrs[1].r#ref(),
            1,
        ),
    ];
    (public_subnets, private_subnets)
}

/// The internet gateway, the public route table and its default route through the gateway.
fn internet_access(
    template: &mut Template,
    vpc: &Handle<Vpc>,
    public_subnets: &[Handle<Subnet>; 2],
) -> Handle<VpcGatewayAttachment> {
    let igw = template.add(
        "InternetGateway",
        InternetGateway {
            tags: name_tag(stack_name("igw")),
        },
    );
    let attachment = template.add(
        "InternetGatewayAttachment",
        VpcGatewayAttachment {
            vpc_id: vpc.r#ref(),
            internet_gateway_id: igw.r#ref(),
        },
    );
    let public_routes = template.add(
        "PublicRouteTable",
        RouteTable {
            vpc_id: vpc.r#ref(),
            tags: name_tag(stack_name("public")),
        },
    );
    // The default route needs the gateway attached first, or creation races and fails.
    template.add_with(
        "PublicDefaultRoute",
        Route {
            route_table_id: public_routes.r#ref(),
            destination_cidr_block: "0.0.0.0/0".into(),
            gateway_id: Some(igw.r#ref()),
            nat_gateway_id: None,
        },
        Attributes::new().depends_on(&attachment).waive(&[Waiver {
            control: Fsbp::NoControl,
            checkov: &[],
            cfn_nag: &[],
            guard: &["NO_UNRESTRICTED_ROUTE_TO_IGW"],
            reason: "this route is what makes the public subnets public, and they hold only the ALB's nodes and the NAT gateways while every instance sits in a private subnet without it",
        }]),
    );
    for (index, subnet) in public_subnets.iter().enumerate() {
        template.add(
            &format!("PublicSubnet{}RouteTableAssociation", index + 1),
            SubnetRouteTableAssociation {
                subnet_id: subnet.r#ref(),
                route_table_id: public_routes.r#ref(),
            },
        );
    }
    attachment
}

/// NAT: the first always exists; the second only with NatGateways=per-az, and the second private
/// route table then uses it instead of the first. Returns the NAT gateway each AZ routes through.
fn nat_gateways(
    template: &mut Template,
    conds: &Conditions,
    attachment: &Handle<VpcGatewayAttachment>,
    public_subnets: &[Handle<Subnet>; 2],
) -> [Expr; 2] {
    let eip1 = template.add_with(
        "NatEip1",
        Eip {
            domain: "vpc",
            tags: name_tag(stack_name("nat-1")),
        },
        Attributes::new().depends_on(attachment),
    );
    let nat1 = template.add(
        "NatGateway1",
        NatGateway {
            allocation_id: eip1.get_att("AllocationId"),
            subnet_id: public_subnets[0].r#ref(),
            tags: name_tag(stack_name("nat-1")),
        },
    );
    let eip2 = template.add_with(
        "NatEip2",
        Eip {
            domain: "vpc",
            tags: name_tag(stack_name("nat-2")),
        },
        Attributes::new()
            .condition(&conds.nat_per_az)
            .depends_on(attachment),
    );
    let nat2 = template.add_with(
        "NatGateway2",
        NatGateway {
            allocation_id: eip2.get_att("AllocationId"),
            subnet_id: public_subnets[1].r#ref(),
            tags: name_tag(stack_name("nat-2")),
        },
        Attributes::new().condition(&conds.nat_per_az),
    );

    [
        nat1.r#ref(),
        Expr::if_(&conds.nat_per_az, nat2.r#ref(), nat1.r#ref()),
    ]
}

type PrivateRoutes = (
    [Handle<RouteTable>; 2],
    [Handle<Route>; 2],
    [Handle<SubnetRouteTableAssociation>; 2],
);

/// Each private subnet's route table, its default route through its AZ's NAT and the association.
fn private_routes(
    template: &mut Template,
    vpc: &Handle<Vpc>,
    private_subnets: &[Handle<Subnet>; 2],
    nat_for_az: &[Expr; 2],
) -> PrivateRoutes {
    let private_route_tables = [0, 1].map(|index| {
        template.add(
            &format!("PrivateRouteTable{}", index + 1),
            RouteTable {
                vpc_id: vpc.r#ref(),
                tags: name_tag(stack_name(&format!("private-{}", index + 1))),
            },
        )
    });
    let private_default_routes = [0, 1].map(|index| {
        template.add(
            &format!("PrivateDefaultRoute{}", index + 1),
            Route {
                route_table_id: private_route_tables[index].r#ref(),
                destination_cidr_block: "0.0.0.0/0".into(),
                gateway_id: None,
                nat_gateway_id: Some(nat_for_az[index].clone()),
            },
        )
    });
    let private_route_associations = [0, 1].map(|index| {
        template.add(
            &format!("PrivateSubnet{}RouteTableAssociation", index + 1),
            SubnetRouteTableAssociation {
                subnet_id: private_subnets[index].r#ref(),
                route_table_id: private_route_tables[index].r#ref(),
            },
        )
    });
    (
        private_route_tables,
        private_default_routes,
        private_route_associations,
    )
}
