use std::time::Instant;
#[test]
fn scratch() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.db");
    drop(seuil_store::sqlite::SqliteStore::open(&p).unwrap());
    let mut c = rusqlite::Connection::open(&p).unwrap();
    c.execute_batch("PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;").unwrap();
    for mode in 0..4 {
        let n = 256 * 20;
        let t = Instant::now();
        let mut k = 0;
        for _b in 0..20 {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
            for _ in 0..256 {
                k += 1;
                if mode != 1 { tx.prepare_cached("SAVEPOINT job").unwrap().execute([]).unwrap(); }
                tx.prepare_cached("INSERT INTO records (kind,id,subject,status,at,scope,body,retain_until,version,created_at,updated_at) VALUES ('visit',?1,'s1',NULL,NULL,NULL,?2,NULL,1,1,1) ON CONFLICT (kind,id) DO NOTHING").unwrap()
                  .execute(rusqlite::params![format!("m{mode}-{k}"), vec![0xabu8; 120]]).unwrap();
                if mode != 1 { tx.prepare_cached("RELEASE job").unwrap().execute([]).unwrap(); }
            }
            let t2 = Instant::now();
            tx.commit().unwrap();
            if _b == 0 { eprintln!("commit {:?}", t2.elapsed()); }
        }
        eprintln!("mode {mode}: {:.0}/s", n as f64 / t.elapsed().as_secs_f64());
        if mode == 1 { c.execute_batch("PRAGMA temp_store=MEMORY").unwrap(); }
    }
}
