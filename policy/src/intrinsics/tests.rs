//! The evaluator on small templates: values, and each way it fails closed.

use super::*;

fn sample() -> Value {
    json!({
        "Parameters": {
            "PrivateSubnet1Cidr": {"Type": "String", "Default": "10.0.20.0/24"},
            "CanaryPlatform": {"Type": "String", "Default": "vm"}
        },
        "Conditions": {"UseDocker": {"Fn::Equals": [{"Ref": "CanaryPlatform"}, "docker"]}},
        "Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Odd": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": {"Fn::Cidr": ["10.0.0.0/16", 2, 8]}}},
            "Bad": {"Type": "AWS::EC2::VPC", "Condition": "Nope", "Properties": {}},
            "Branch": {"Type": "AWS::EC2::VPC", "Properties": {"Tags": [{"Fn::If": ["Missing", 1, 2]}]}}
        }
    })
}

#[test]
fn resolves_parameters_conditions_and_azs() {
    let template = sample();
    let vm = Evaluator::new(&template, &[]).unwrap();
    let docker = Evaluator::new(&template, &[("CanaryPlatform", "docker")]).unwrap();
    let ids = Physical::LogicalIds;
    let v = |e: &Evaluator<'_>, x: Value| e.value_at("Outputs.T", "Value", &x, &ids).unwrap();
    let expr = json!({"Fn::If": ["UseDocker", {"Ref": "Vpc"}, {"Ref": "AWS::NoValue"}]});
    assert_eq!(v(&vm, json!([expr.clone()])), json!([]));
    assert_eq!(v(&docker, json!([expr])), json!(["Vpc"]));
    assert_eq!(
        v(&vm, json!({"Ref": "PrivateSubnet1Cidr"})),
        json!("10.0.20.0/24")
    );
    assert_eq!(
        v(&vm, json!({"Fn::GetAtt": ["Vpc", "CidrBlock"]})),
        json!("10.0.0.0/16")
    );
    assert_eq!(
        v(&vm, json!({"Fn::Select": [1, {"Fn::GetAZs": ""}]})),
        json!("us-east-1b")
    );
    assert_eq!(
        v(
            &vm,
            json!({"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]})
        ),
        json!("1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b")
    );
    assert_eq!(
        v(
            &vm,
            json!({"Fn::Sub": "com.amazonaws.${AWS::Region}.s3 ${!Literal}"})
        ),
        json!("com.amazonaws.us-east-1.s3 ${Literal}")
    );
}

#[test]
fn an_unknown_intrinsic_is_an_error_naming_the_resource_and_the_path() {
    let template = sample();
    let e = Evaluator::new(&template, &[]).unwrap();
    let err = e.properties("Odd", &Physical::LogicalIds).unwrap_err();
    assert_eq!(err.at, "Resources.Odd");
    assert_eq!(err.path, "Properties.CidrBlock.Fn::Cidr");
    assert!(
        err.message
            .contains("unknown intrinsic function `Fn::Cidr`"),
        "{err}"
    );
}

#[test]
fn an_undeclared_condition_is_an_error_not_false() {
    let template = sample();
    let e = Evaluator::new(&template, &[]).unwrap();
    let err = e.properties("Branch", &Physical::LogicalIds).unwrap_err();
    assert_eq!(
        (err.at.as_str(), err.path.as_str()),
        ("Resources.Branch", "Properties.Tags[0].Fn::If")
    );
    assert!(err.message.contains("`Missing` is not declared"), "{err}");
    let err = e.resources().unwrap_err();
    assert_eq!(
        (err.at.as_str(), err.path.as_str()),
        ("Resources.Bad", "Condition")
    );
    let err = e
        .value_at(
            "Outputs.X",
            "Value",
            &json!({"Ref": "Nothing"}),
            &Physical::LogicalIds,
        )
        .unwrap_err();
    assert!(err.message.contains("names no parameter"), "{err}");
    let broken = json!({"Conditions": {"A": {"Fn::Not": [{"Condition": "B"}]}}});
    let err = Evaluator::new(&broken, &[]).err().unwrap();
    assert_eq!(err.at, "Conditions.A");
    assert!(Evaluator::new(&template, &[("NoSuchParameter", "x")]).is_err());
}

#[test]
fn unresolved_keeps_resource_intrinsics_and_value_functions() {
    let template = sample();
    let e = Evaluator::new(&template, &[]).unwrap();
    let value = json!({"Fn::Sub": ["${A}-x", {"A": {"Ref": "CanaryPlatform"}}]});
    assert_eq!(
        e.value_at("Outputs.T", "Value", &value, &Physical::Unresolved)
            .unwrap(),
        json!({"Fn::Sub": ["${A}-x", {"A": "vm"}]})
    );
    assert_eq!(
        e.value_at(
            "Outputs.T",
            "Value",
            &json!({"Ref": "Vpc"}),
            &Physical::Unresolved
        )
        .unwrap(),
        json!({"Ref": "Vpc"})
    );
    let given = |id: &str, attr: Option<&str>| match (id, attr) {
        ("Vpc", None) => Some("vpc-123".to_owned()),
        _ => None,
    };
    let physical = Physical::Given(&given);
    assert_eq!(
        e.value_at(
            "Outputs.T",
            "Value",
            &json!({"Fn::Join": ["/", [{"Ref": "Vpc"}, "a"]]}),
            &physical
        )
        .unwrap(),
        json!("vpc-123/a")
    );
    let err = e
        .value_at(
            "Outputs.T",
            "Value",
            &json!({"Fn::GetAtt": ["Vpc", "Arn"]}),
            &physical,
        )
        .unwrap_err();
    assert!(
        err.message
            .contains("`Vpc.Arn` is referenced but has no value here"),
        "{err}"
    );
}
