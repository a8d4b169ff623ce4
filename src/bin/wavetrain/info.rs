//! `wavetrain info`: the GPU adapters, which one `auto` picks, and the CPU threads.

use wavetrain::Result;

#[cfg(feature = "gpu")]
pub fn info(json: bool) -> Result<()> {
    let adapters = wavetrain::gpu::list_adapters();
    let auto = wavetrain::gpu::auto_adapter();
    let threads = rayon::current_num_threads();
    if json {
        println!(
            "{}",
            serde_json::json!({"adapters": adapters, "auto": auto.as_ref().map(|a| a.name.clone()), "cpu_threads": threads})
        );
        return Ok(());
    }
    println!("CPU engine: {threads} threads (rayon; set RAYON_NUM_THREADS to change)");
    if adapters.is_empty() {
        println!("GPU adapters: none found (WGPU_BACKEND={}); install a driver (e.g. `apt install mesa-vulkan-drivers` for the software Vulkan driver) or use --backend cpu", std::env::var("WGPU_BACKEND").unwrap_or_else(|_| "all".into()));
    }
    for (i, a) in adapters.iter().enumerate() {
        println!("adapter {i}: {}", a.name);
        println!(
            "  backend {}, type {}{}, driver {} {}",
            a.backend,
            a.device_type,
            if a.software { " (software)" } else { "" },
            a.driver,
            a.driver_info
        );
        let l = &a.limits;
        println!(
            "  max buffer {} MiB, max storage binding {} MiB, workgroup storage {} KiB, {} invocations/workgroup",
            l.max_buffer_size >> 20,
            l.max_storage_buffer_binding_size >> 20,
            l.max_compute_workgroup_storage_size >> 10,
            l.max_compute_invocations_per_workgroup
        );
        println!(
            "  timestamp queries: {}",
            if a.timestamps {
                "yes (bench times kernels on the GPU clock)"
            } else {
                "no (bench uses queue-drain timing)"
            }
        );
    }
    match auto {
        Some(a) => println!("--backend auto uses: {} ({})", a.name, a.backend),
        None => println!("--backend auto uses: the CPU (no hardware GPU; --backend gpu accepts a software adapter)"),
    }
    Ok(())
}

#[cfg(not(feature = "gpu"))]
pub fn info(_json: bool) -> Result<()> {
    println!(
        "CPU engine: {} threads; this build has no GPU support (feature `gpu` off)",
        rayon::current_num_threads()
    );
    Ok(())
}
