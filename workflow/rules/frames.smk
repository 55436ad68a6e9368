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
    shell:
        "awk 'FNR > 1 || NR == 1' {input} > {output} 2> {log}"
