//! The `aws` command → IAM table: each row is a command line and the
//! exact actions and resources it needs, or `None` where the table must
//! not guess (the caller then falls back and says so).

use guard::creds::aws_actions::{needs, policy, Needs};

fn n(actions: &[&str], resources: &[&str]) -> Option<Needs> {
    Some(Needs {
        actions: actions.iter().map(|s| s.to_string()).collect(),
        resources: resources.iter().map(|s| s.to_string()).collect(),
    })
}

#[test]
fn aws_commands_map_to_their_iam_needs() {
    let table: Vec<(&str, Option<Needs>)> = vec![
        // s3, high-level
        ("aws s3 ls", n(&["s3:ListAllMyBuckets"], &["*"])),
        ("aws s3 ls s3://b/p", n(&["s3:ListBucket"], &["arn:aws:s3:::b"])),
        ("aws --profile prod s3 ls s3://logs", n(&["s3:ListBucket"], &["arn:aws:s3:::logs"])),
        ("aws s3 ls s3://b --recursive --human-readable", n(&["s3:ListBucket"], &["arn:aws:s3:::b"])),
        ("aws s3 cp s3://b/k.txt .", n(&["s3:GetObject"], &["arn:aws:s3:::b/k.txt"])),
        ("aws s3 cp ./f s3://b/dir/", n(&["s3:PutObject"], &["arn:aws:s3:::b/dir/*"])),
        ("aws s3 cp s3://a/x s3://b/y", n(&["s3:GetObject", "s3:PutObject"], &["arn:aws:s3:::a/x", "arn:aws:s3:::b/y"])),
        ("aws s3 cp s3://b/dir/ . --recursive", n(&["s3:GetObject", "s3:ListBucket"], &["arn:aws:s3:::b", "arn:aws:s3:::b/dir/*"])),
        ("aws s3 mv s3://b/k s3://b/old/k", n(&["s3:DeleteObject", "s3:GetObject", "s3:PutObject"], &["arn:aws:s3:::b/k", "arn:aws:s3:::b/old/k"])),
        ("aws s3 sync . s3://site", n(&["s3:ListBucket", "s3:PutObject"], &["arn:aws:s3:::site", "arn:aws:s3:::site/*"])),
        ("aws s3 sync s3://site ./out", n(&["s3:GetObject", "s3:ListBucket"], &["arn:aws:s3:::site", "arn:aws:s3:::site/*"])),
        ("aws s3 rm s3://b/k", n(&["s3:DeleteObject"], &["arn:aws:s3:::b/k"])),
        ("aws s3 rm s3://b/tmp/ --recursive", n(&["s3:DeleteObject", "s3:ListBucket"], &["arn:aws:s3:::b", "arn:aws:s3:::b/tmp/*"])),
        ("aws s3 mb s3://new-bucket", n(&["s3:CreateBucket"], &["arn:aws:s3:::new-bucket"])),
        ("aws s3 rb s3://old", n(&["s3:DeleteBucket"], &["arn:aws:s3:::old"])),
        ("aws s3 rb s3://old --force", n(&["s3:DeleteBucket", "s3:DeleteObject", "s3:ListBucket"], &["arn:aws:s3:::old", "arn:aws:s3:::old/*"])),
        ("aws s3 presign s3://b/k --expires-in 60", n(&["s3:GetObject"], &["arn:aws:s3:::b/k"])),
        ("aws s3 cp a b", None),
        ("aws s3 website s3://b", None),
        // s3api
        ("aws s3api list-buckets", n(&["s3:ListAllMyBuckets"], &["*"])),
        ("aws s3api list-objects-v2 --bucket b", n(&["s3:ListBucket"], &["arn:aws:s3:::b"])),
        ("aws s3api get-object --bucket b --key k out", n(&["s3:GetObject"], &["arn:aws:s3:::b/k"])),
        ("aws s3api put-object --bucket b --key k --body f", n(&["s3:PutObject"], &["arn:aws:s3:::b/k"])),
        ("aws s3api head-object --bucket b --key k", n(&["s3:GetObject"], &["arn:aws:s3:::b/k"])),
        ("aws s3api get-bucket-policy --bucket b", n(&["s3:GetBucketPolicy"], &["arn:aws:s3:::b"])),
        // ec2
        ("aws ec2 describe-instances", n(&["ec2:DescribeInstances"], &["*"])),
        ("aws --region eu-west-1 ec2 describe-security-groups --group-ids sg-1", n(&["ec2:DescribeSecurityGroups"], &["*"])),
        ("aws ec2 run-instances --image-id ami-1 --count 1", n(&["ec2:RunInstances"], &["*"])),
        ("aws ec2 terminate-instances --instance-ids i-1", n(&["ec2:TerminateInstances"], &["*"])),
        ("aws ec2 start-instances --instance-ids i-1", n(&["ec2:StartInstances"], &["*"])),
        ("aws ec2 create-tags --resources i-1 --tags Key=a,Value=b", n(&["ec2:CreateTags"], &["*"])),
        ("aws ec2 wait instance-running --instance-ids i-1", None),
        // iam
        ("aws iam list-users", n(&["iam:ListUsers"], &["*"])),
        ("aws iam get-user --user-name ann", n(&["iam:GetUser"], &["arn:aws:iam::*:user/ann"])),
        ("aws iam create-access-key --user-name ci", n(&["iam:CreateAccessKey"], &["arn:aws:iam::*:user/ci"])),
        ("aws iam attach-role-policy --role-name r --policy-arn arn:aws:iam::aws:policy/X", n(&["iam:AttachRolePolicy"], &["arn:aws:iam::*:role/r"])),
        ("aws iam list-roles", n(&["iam:ListRoles"], &["*"])),
        // sts
        ("aws sts get-caller-identity", n(&["sts:GetCallerIdentity"], &["*"])),
        ("aws sts assume-role --role-arn arn:aws:iam::1:role/deploy --role-session-name s", n(&["sts:AssumeRole"], &["arn:aws:iam::1:role/deploy"])),
        ("aws sts get-session-token", n(&["sts:GetSessionToken"], &["*"])),
        // lambda
        ("aws lambda list-functions", n(&["lambda:ListFunctions"], &["*"])),
        ("aws lambda invoke --function-name f out.json", n(&["lambda:InvokeFunction"], &["arn:aws:lambda:*:*:function:f"])),
        ("aws --region us-east-1 lambda get-function --function-name f", n(&["lambda:GetFunction"], &["arn:aws:lambda:us-east-1:*:function:f"])),
        ("aws lambda update-function-code --function-name arn:aws:lambda:us-east-1:1:function:f --zip-file fileb://x.zip", n(&["lambda:UpdateFunctionCode"], &["arn:aws:lambda:us-east-1:1:function:f"])),
        ("aws lambda delete-function --function-name f", n(&["lambda:DeleteFunction"], &["arn:aws:lambda:*:*:function:f"])),
        // logs
        ("aws logs describe-log-groups", n(&["logs:DescribeLogGroups"], &["*"])),
        ("aws logs tail /aws/lambda/f --follow", n(&["logs:DescribeLogGroups", "logs:FilterLogEvents"], &["arn:aws:logs:*:*:log-group:/aws/lambda/f:*"])),
        ("aws logs filter-log-events --log-group-name g --filter-pattern ERROR", n(&["logs:FilterLogEvents"], &["arn:aws:logs:*:*:log-group:g:*"])),
        ("aws logs get-log-events --log-group-name g --log-stream-name s", n(&["logs:GetLogEvents"], &["arn:aws:logs:*:*:log-group:g:*"])),
        // dynamodb
        ("aws dynamodb list-tables", n(&["dynamodb:ListTables"], &["*"])),
        ("aws dynamodb scan --table-name t", n(&["dynamodb:Scan"], &["arn:aws:dynamodb:*:*:table/t"])),
        ("aws dynamodb get-item --table-name t --key '{}'", n(&["dynamodb:GetItem"], &["arn:aws:dynamodb:*:*:table/t"])),
        ("aws dynamodb put-item --table-name t --item '{}'", n(&["dynamodb:PutItem"], &["arn:aws:dynamodb:*:*:table/t"])),
        ("aws dynamodb query --table-name=t --key-condition-expression x", n(&["dynamodb:Query"], &["arn:aws:dynamodb:*:*:table/t"])),
        ("aws dynamodb delete-table --table-name t", n(&["dynamodb:DeleteTable"], &["arn:aws:dynamodb:*:*:table/t"])),
        // ssm
        ("aws ssm get-parameter --name /prod/db/password --with-decryption", n(&["ssm:GetParameter"], &["arn:aws:ssm:*:*:parameter/prod/db/password"])),
        ("aws ssm put-parameter --name x --value y --type String", n(&["ssm:PutParameter"], &["arn:aws:ssm:*:*:parameter/x"])),
        ("aws ssm get-parameters-by-path --path /prod", n(&["ssm:GetParametersByPath"], &["*"])),
        ("aws ssm start-session --target i-1", n(&["ssm:StartSession"], &["*"])),
        ("aws ssm describe-instance-information", n(&["ssm:DescribeInstanceInformation"], &["*"])),
        // others the table knows, and what it must not guess
        ("aws ecr get-login-password", n(&["ecr:GetAuthorizationToken"], &["*"])),
        ("aws eks update-kubeconfig --name prod", n(&["eks:DescribeCluster"], &["*"])),
        ("aws configure list", None),
        ("aws help", None),
        ("aws", None),
        ("aws --version", None),
        ("aws somefutureservice describe-things", None),
        ("gcloud s3 ls", None),
    ];
    assert!(table.len() >= 50);
    for (line, want) in &table {
        let argv = shell_words::split(line).unwrap();
        assert_eq!(&needs(&argv), want, "{line}");
    }
}

#[test]
fn a_policy_merges_what_was_seen() {
    let seen: Vec<Needs> = [
        "aws s3 ls s3://b",
        "aws s3 cp s3://b/k .",
        "aws s3 ls s3://b/p",
    ]
    .iter()
    .filter_map(|l| needs(&shell_words::split(l).unwrap()))
    .collect();
    assert_eq!(
        policy(&seen).to_string(),
        r#"{"Statement":[{"Action":["s3:GetObject","s3:ListBucket"],"Effect":"Allow","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/k"]}],"Version":"2012-10-17"}"#
    );
    let with_star: Vec<Needs> = ["aws s3 ls", "aws s3 ls s3://b"]
        .iter()
        .filter_map(|l| needs(&shell_words::split(l).unwrap()))
        .collect();
    assert_eq!(
        policy(&with_star)["Statement"][0]["Resource"],
        serde_json::json!(["*"])
    );
}
