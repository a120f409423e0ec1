use super::*;
use std::collections::HashMap;

fn cfg(vars: &[(&str, &str)]) -> Option<S3Config> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    S3Config::from_vars(|name| vars.get(name).cloned())
}

#[test]
fn config_from_env() {
    assert!(cfg(&[]).is_none());
    assert!(cfg(&[("SEUIL_S3_ENDPOINT", "http://127.0.0.1:9000")]).is_none());
    let base = [
        ("SEUIL_S3_ENDPOINT", "http://127.0.0.1:9000"),
        ("SEUIL_S3_BUCKET", "b"),
        ("AWS_ACCESS_KEY_ID", "ak"),
        ("AWS_SECRET_ACCESS_KEY", "sk"),
    ];
    let c = cfg(&base).unwrap();
    assert_eq!(
        (
            c.region.as_str(),
            c.access_key.as_str(),
            c.secret_key.as_str()
        ),
        ("us-east-1", "ak", "sk")
    );
    assert!(c.path_style);
    assert!(!format!("{c:?}").contains("sk\""));
    let mut own = base.to_vec();
    own.extend([
        ("SEUIL_S3_ACCESS_KEY", "ak2"),
        ("SEUIL_S3_SECRET_KEY", "sk2"),
        ("SEUIL_S3_REGION", "eu-west-3"),
    ]);
    let c = cfg(&own).unwrap();
    assert_eq!(
        (
            c.region.as_str(),
            c.access_key.as_str(),
            c.secret_key.as_str()
        ),
        ("eu-west-3", "ak2", "sk2")
    );
    let mut aws = base.to_vec();
    aws[0] = ("SEUIL_S3_ENDPOINT", "https://s3.eu-west-3.amazonaws.com");
    assert!(!cfg(&aws).unwrap().path_style);
    aws.push(("SEUIL_S3_PATH_STYLE", "true"));
    assert!(cfg(&aws).unwrap().path_style);
    let mut bad = base.to_vec();
    bad[0] = ("SEUIL_S3_ENDPOINT", "127.0.0.1:9000");
    assert!(cfg(&bad).is_none());
    assert!(cfg(&base[..3]).is_none());
}

#[test]
fn part_sizes_grow_every_thousand_parts() {
    assert_eq!(part_size(1), PART_SIZE);
    assert_eq!(part_size(1000), PART_SIZE);
    assert_eq!(part_size(1001), 2 * PART_SIZE);
    assert_eq!(part_size(MAX_PARTS), 10 * PART_SIZE);
}

#[test]
fn error_codes_are_read_from_xml() {
    let xml = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
    assert_eq!(xml_tag(xml, "Code"), Some("NoSuchKey"));
    assert_eq!(xml_tag(xml, "Message"), Some("gone"));
    assert_eq!(xml_tag("", "Code"), None);
}

#[tokio::test]
async fn parts_are_cut_at_the_size() {
    let chunks: Vec<io::Result<Bytes>> = vec![
        Ok(Bytes::from_static(b"abc")),
        Ok(Bytes::from_static(b"defghij")),
        Ok(Bytes::from_static(b"k")),
    ];
    let mut r = PartReader::new(futures_util::stream::iter(chunks).boxed());
    assert_eq!(&r.next(4).await.unwrap()[..], b"abcd");
    assert_eq!(&r.next(4).await.unwrap()[..], b"efgh");
    assert_eq!(&r.next(4).await.unwrap()[..], b"ijk");
    assert!(r.next(4).await.unwrap().is_empty());
    assert!(r.next(4).await.unwrap().is_empty());
}
