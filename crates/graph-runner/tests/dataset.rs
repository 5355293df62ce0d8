//! Datasets and shards: nnU-Net channels, lists, shard selection from flags and job arrays.

use std::collections::BTreeMap;
use voxflow_graph_runner::dataset::{self, Shard};

fn touch(path: &std::path::Path) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, b"").expect("write");
}

#[test]
fn nnunet_channels_and_labels() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = tmp.path();
    for f in [
        "imagesTr/b_0000.nii.gz",
        "imagesTr/b_0001.nii.gz",
        "imagesTr/a_0000.nii.gz",
        "imagesTr/.DS_Store",
        "labelsTr/a.nii.gz",
        "labelsTr/b.nii.gz",
    ] {
        touch(&d.join(f));
    }
    let cases = dataset::nnunet(d).expect("dataset");
    let summary: Vec<(String, Vec<String>)> =
        cases.iter().map(|c| (c.id.clone(), c.inputs.keys().cloned().collect())).collect();
    assert_eq!(
        summary,
        vec![
            ("a".to_owned(), vec!["image".to_owned(), "label".to_owned()]),
            ("b".to_owned(), vec!["image".to_owned(), "image_0001".to_owned(), "label".to_owned()]),
        ]
    );
    assert!(cases[1].inputs["image_0001"].is_absolute());
    touch(&d.join("imagesTr/c_01.nii.gz"));
    let err = dataset::nnunet(d).expect_err("bad channel").to_string();
    assert!(err.contains("c_01.nii.gz") && err.contains("4-digit"), "{err}");
}

#[test]
fn json_list_and_single_case() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let list = tmp.path().join("cases.json");
    std::fs::write(&list, r#"[{"case": "z", "image": "z.nii.gz"}, {"case": "y", "image": "sub/y.nii"}]"#)
        .expect("write");
    let cases = dataset::list(&list).expect("list");
    assert_eq!(cases[0].id, "y");
    assert_eq!(cases[0].inputs["image"], tmp.path().join("sub/y.nii"));
    let dup = tmp.path().join("dup.csv");
    std::fs::write(&dup, "case,image\nx,a.nii\nx,b.nii\n").expect("write");
    assert!(dataset::list(&dup).expect_err("duplicate").to_string().contains("`x`"));
    let inputs = BTreeMap::from([("image".to_owned(), "dir/sub-01_T1w.nii.gz".to_owned())]);
    let single = dataset::single(None, &inputs, tmp.path()).expect("single");
    assert_eq!(single[0].id, "sub-01_T1w");
    assert_eq!(
        dataset::parse_input("label=a=b.nii").expect("pair"),
        ("label".to_owned(), "a=b.nii".to_owned())
    );
    assert!(dataset::parse_input("nolabel").is_err());
}

#[test]
fn shards_from_flags_and_job_arrays() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    };
    assert_eq!(Shard::parse("1/3").expect("ok"), Shard { index: 1, count: 3 });
    for bad in ["3/3", "1", "a/2", "0/0"] {
        assert!(Shard::parse(bad).is_err(), "{bad}");
    }
    let shard = |spec: Option<&str>, count: Option<usize>, pairs: &'static [(&'static str, &'static str)]| {
        Shard::resolve(spec, count, env(pairs)).map(|s| s.map(|(s, _)| (s.index, s.count)))
    };
    let array =
        |id: &'static str, min: &'static str, max: &'static str, step: &'static str, count: &'static str| {
            let pairs: &'static [(&'static str, &'static str)] = Box::leak(Box::new([
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_MIN", min),
                ("SLURM_ARRAY_TASK_MAX", max),
                ("SLURM_ARRAY_TASK_STEP", step),
                ("SLURM_ARRAY_TASK_COUNT", count),
            ]));
            pairs
        };
    // Never from the environment unless asked.
    assert_eq!(shard(None, None, array("1", "0", "3", "1", "4")).expect("ok"), None);
    assert_eq!(shard(Some("auto"), None, &[]).expect("ok"), None);
    // --array=0-3, 4-5 (relative to MIN), 0-6:2 (stepped), 0-3%2 (throttled: same variables).
    assert_eq!(shard(Some("slurm"), None, array("2", "0", "3", "1", "4")).expect("ok"), Some((2, 4)));
    assert_eq!(shard(Some("slurm"), None, array("5", "4", "5", "1", "2")).expect("ok"), Some((1, 2)));
    assert_eq!(shard(Some("slurm"), None, array("4", "0", "6", "2", "4")).expect("ok"), Some((2, 4)));
    assert_eq!(shard(Some("auto"), None, array("6", "0", "6", "2", "4")).expect("ok"), Some((3, 4)));
    // A listed array (0,2,5,7) is not a range: an error without a count, the id with one.
    let listed = array("5", "0", "7", "1", "4");
    let e = shard(Some("slurm"), None, listed).expect_err("listed");
    assert!(e.to_string().contains("--shard-count"), "{e}");
    assert_eq!(shard(Some("slurm"), Some(8), listed).expect("ok"), Some((5, 8)));
    assert!(shard(Some("slurm"), Some(4), listed).is_err(), "id 5 is not a shard of 4");
    // One index resubmitted (--array=2): an error without a count, shard 2 of 4 with one.
    let resubmitted = array("2", "2", "2", "1", "1");
    assert!(
        shard(Some("slurm"), None, resubmitted).expect_err("resubmitted").to_string().contains("resubmitted")
    );
    assert_eq!(shard(Some("slurm"), Some(4), resubmitted).expect("ok"), Some((2, 4)));
    // Kubernetes: the count is required and must cover the index.
    assert_eq!(
        shard(Some("k8s"), None, &[("JOB_COMPLETION_INDEX", "2"), ("VOXFLOW_SHARD_COUNT", "4")]).expect("ok"),
        Some((2, 4))
    );
    assert_eq!(
        shard(
            None,
            None,
            &[("VOXFLOW_SHARD", "auto"), ("JOB_COMPLETION_INDEX", "1"), ("VOXFLOW_SHARD_COUNT", "2")]
        )
        .expect("ok"),
        Some((1, 2))
    );
    assert!(shard(Some("k8s"), None, &[("JOB_COMPLETION_INDEX", "2")]).is_err());
    assert!(shard(Some("k8s"), Some(2), &[("JOB_COMPLETION_INDEX", "2")]).is_err());
    assert!(shard(Some("slurm"), None, &[]).is_err(), "not in an array");
    // Inconsistent settings are errors, never a silent skip.
    assert!(shard(Some("1/3"), Some(4), &[]).is_err());
    assert!(
        shard(Some("k8s"), Some(4), &[("JOB_COMPLETION_INDEX", "1"), ("VOXFLOW_SHARD_COUNT", "8")]).is_err()
    );
    assert!(shard(None, Some(4), &[]).is_err(), "a count without --shard");
    assert_eq!(shard(Some("1/3"), None, &[]).expect("ok"), Some((1, 3)));

    let cases: Vec<dataset::Case> =
        (0..7).map(|i| dataset::Case { id: format!("c{i}"), inputs: BTreeMap::new() }).collect();
    let ids = |s: Shard| s.select(cases.clone()).into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(ids(Shard { index: 0, count: 3 }), ["c0", "c3", "c6"]);
    assert_eq!(ids(Shard { index: 2, count: 3 }), ["c2", "c5"]);
}
