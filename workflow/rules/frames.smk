rule frame_index:
    input:
        frame_lists,
    output:
        f"{OUT}/frames.csv",
    log:
        f"{OUT}/logs/frame_index.log",
    localrule: True
    conda:
        "../envs/aia.yaml"
    script:
        "../scripts/frame_index.py"


rule product_frame_index:
    input:
        frame_lists,
    output:
        f"{OUT}/products/{{product}}/frames.csv",
    log:
        f"{OUT}/logs/frame_index/{{product}}.log",
    localrule: True
    conda:
        "../envs/aia.yaml"
    script:
        "../scripts/frame_index.py"
