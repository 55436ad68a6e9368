checkpoint frame_index:
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


rule frame:
    input:
        rendered_batch,
    output:
        f"{OUT}/frames/{{frame}}.jpg",
    log:
        f"{OUT}/logs/frame/{{frame}}.log",
    localrule: True
    conda:
        "../envs/aia.yaml"
    shell:
        "ln -f {input}/{wildcards.frame}.jpg {output} > {log} 2>&1"
