rule render:
    input:
        triplets=batch_table,
        levels=f"{OUT}/levels.yaml",
        product_levels=expand(
            f"{OUT}/products/{{product}}/levels.yaml", product=LEVELLED
        ),
    output:
        frames=directory(f"{OUT}/frames/{{batch}}"),
        frame_list=f"{OUT}/frame_lists/{{batch}}.csv",
        skipped=f"{OUT}/skipped/{{batch}}.csv",
        product_frames=[
            directory(path) for path in product_paths("{product_dir}/frames/{{batch}}")
        ],
        product_lists=product_paths("{product_dir}/frame_lists/{{batch}}.csv"),
    log:
        f"{OUT}/logs/render/{{batch}}.log",
    benchmark:
        f"{OUT}/benchmarks/render/{{batch}}.tsv"
    conda:
        "../envs/aia.yaml"
    threads: render_threads
    resources:
        mem_mb=render_mem_mb,
        runtime=batch_runtime,
    params:
        triplets=batch_triplets,
        others=difference_others,
        stamps=batch_stamps,
        channels=CHANNELS,
        prep=config["prep"],
        products=render_products,
        quality=config["jpeg_quality"],
    script:
        "../scripts/render.py"
