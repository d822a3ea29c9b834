//! Every `Ref`, `Fn::GetAtt`, `${X}` of a `Fn::Sub`, condition and `DependsOn` of the synthesized
//! stack names something that exists; and the model refuses names that do not.

use stack::cfn::resources::{InternetGateway, Vpc};
use stack::cfn::{Expr, ReferenceError, Sub, Template};

#[test]
fn every_reference_of_the_stack_resolves() {
    let template = stack::synthesize(&stack::Options::default());
    assert_eq!(template.check_references(), Ok(()));
    // The pass really looked: the stack is full of references.
    let text = template.to_json().to_string();
    assert!(text.matches("\"Ref\"").count() > 100);
    assert!(text.matches("Fn::GetAtt").count() > 10);
}

#[test]
fn a_reference_to_a_missing_resource_is_reported_with_its_place() {
    let mut template = Template::new("test");
    let mut other = Template::new("another template");
    let foreign = other.add("Elsewhere", InternetGateway { tags: Vec::new() });
    // A handle from another template is the one way to name something absent.
    template.add(
        "Vpc",
        Vpc {
            cidr_block: foreign.r#ref(),
            enable_dns_support: true,
            enable_dns_hostnames: true,
            tags: Vec::new(),
        },
    );
    assert_eq!(
        template.check_references(),
        Err(vec![ReferenceError::Ref {
            from: "Resources.Vpc".into(),
            name: "Elsewhere".into()
        }])
    );
    assert!(template.render().is_err());
}

#[test]
#[should_panic(expected = "`${Bucket}` in a Fn::Sub names nothing handed to it")]
fn a_sub_variable_must_be_a_handle_handed_to_it() {
    let _ = Sub::new("s3://${Bucket}/key").build();
}

#[test]
fn a_sub_accepts_pseudo_parameters_handles_and_literals() {
    let mut template = Template::new("test");
    let igw = template.add("Gateway", InternetGateway { tags: Vec::new() });
    let sub = Sub::new("${AWS::Region} ${Gateway} ${!NotAVariable}")
        .var(&igw)
        .build();
    assert_eq!(
        sub,
        Expr::lit(serde_json::json!({ "Fn::Sub": "${AWS::Region} ${Gateway} ${!NotAVariable}" }))
    );
}

#[test]
#[should_panic(expected = "has no attribute `Arn`")]
fn get_att_only_names_attributes_of_the_type() {
    let mut template = Template::new("test");
    let vpc = template.add(
        "Vpc",
        Vpc {
            cidr_block: "10.0.0.0/16".into(),
            enable_dns_support: true,
            enable_dns_hostnames: true,
            tags: Vec::new(),
        },
    );
    let _ = vpc.get_att("Arn");
}

#[test]
#[should_panic(expected = "logical ID `Vpc` is used twice")]
fn logical_ids_are_unique() {
    let mut template = Template::new("test");
    template.add("Vpc", InternetGateway { tags: Vec::new() });
    template.add("Vpc", InternetGateway { tags: Vec::new() });
}
