//! Runs a test cluster until Ctrl-C: `cargo run -p esox-testcluster --example serve -- 127.0.0.1:6443 /tmp/kubeconfig`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let mut args = std::env::args().skip(1);
    let addr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()?;
    let out = args.next().unwrap_or_else(|| "kubeconfig".into());
    esox_testcluster::run_standalone(addr, std::path::Path::new(&out)).await?;
    Ok(())
}
