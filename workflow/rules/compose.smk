rule compose:
    input:
        f"{OUT}/scaled/{{batch}}",
    output:
        frames=directory(f"{OUT}/frames/{{batch}}"),
        frame_list=f"{OUT}/frame_lists/{{batch}}.csv",
    log:
        f"{OUT}/logs/compose/{{batch}}.log",
    benchmark:
        f"{OUT}/benchmarks/compose/{{batch}}.tsv"
    conda:
        "../envs/aia.yaml"
    resources:
        mem_mb=1000,
        runtime=batch_runtime,
    params:
        channels=CHANNELS,
        look=configuration.look(config),
        quality=config["jpeg_quality"],
    script:
        "../scripts/compose.py"


rule product:
    input:
        prepped=difference_prepped,
        levels=f"{OUT}/levels.yaml",
        product_levels=product_levels_files,
    output:
        frames=directory(f"{OUT}/products/{{product}}/frames/{{batch}}"),
        frame_list=f"{OUT}/products/{{product}}/frame_lists/{{batch}}.csv",
    log:
        f"{OUT}/logs/product/{{product}}/{{batch}}.log",
    benchmark:
        f"{OUT}/benchmarks/product/{{product}}/{{batch}}.tsv"
    conda:
        "../envs/aia.yaml"
    resources:
        mem_mb=1000,
        runtime=batch_runtime,
    params:
        wanted=product_wanted,
        names=difference_names,
        quality=config["jpeg_quality"],
    script:
        "../scripts/product.py"
