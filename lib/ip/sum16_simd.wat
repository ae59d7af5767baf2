;; One's-complement sum of a byte range with WebAssembly SIMD, for
;; lib/ip/sum16_simd.ts. Assembled into lib/ip/_sum16_wasm.ts by
;; `deno run -A tests/helpers/build_sum16_wasm.ts` (npm:wabt).
;;
;; sum(ptr, len): the bytes memory[ptr, ptr+len) taken as 16-bit lanes in
;; memory (little-endian) order from ptr, summed with end-around carry and
;; folded to 16 bits. The caller swaps the two bytes of the result to get
;; the big-endian (network order) sum: one's-complement addition commutes
;; with a byte swap (RFC 1071 section 2(B)). A last chunk shorter than 16
;; bytes is loaded whole and masked, so up to 15 bytes past the end are read:
;; the memory keeps 16 spare bytes after the largest range.
(module
  (memory (export "memory") 2)
  (func (export "sum") (param $p i32) (param $len i32) (result i32)
    (local $end i32) (local $a v128) (local $b v128) (local $s i64)
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    ;; 32 bytes per round into two accumulators. Each lane gains at most
    ;; 2 * 0xFFFF per round: no overflow below 2 GB.
    (block $d32
      (loop $l32
        (br_if $d32 (i32.gt_u (i32.add (local.get $p) (i32.const 32)) (local.get $end)))
        (local.set $a (i32x4.add (local.get $a)
          (i32x4.extadd_pairwise_i16x8_u (v128.load (local.get $p)))))
        (local.set $b (i32x4.add (local.get $b)
          (i32x4.extadd_pairwise_i16x8_u (v128.load offset=16 (local.get $p)))))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (br $l32)))
    ;; Then 16 bytes at a time; the last chunk keeps its first end-p bytes.
    (block $d16
      (loop $l16
        (br_if $d16 (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $a (i32x4.add (local.get $a)
          (i32x4.extadd_pairwise_i16x8_u
            (v128.and (v128.load (local.get $p))
              (i8x16.lt_u
                (v128.const i8x16 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
                (i8x16.splat
                  (select
                    (i32.sub (local.get $end) (local.get $p))
                    (i32.const 16)
                    (i32.lt_u (i32.sub (local.get $end) (local.get $p)) (i32.const 16)))))))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (br $l16)))
    (local.set $a (i32x4.add (local.get $a) (local.get $b)))
    (local.set $s (i64.add
      (i64.add (i64.extend_i32_u (i32x4.extract_lane 0 (local.get $a)))
               (i64.extend_i32_u (i32x4.extract_lane 1 (local.get $a))))
      (i64.add (i64.extend_i32_u (i32x4.extract_lane 2 (local.get $a)))
               (i64.extend_i32_u (i32x4.extract_lane 3 (local.get $a))))))
    ;; Fold 34 bits to 16 (three rounds are enough).
    (local.set $s (i64.add (i64.and (local.get $s) (i64.const 0xffff))
                           (i64.shr_u (local.get $s) (i64.const 16))))
    (local.set $s (i64.add (i64.and (local.get $s) (i64.const 0xffff))
                           (i64.shr_u (local.get $s) (i64.const 16))))
    (local.set $s (i64.add (i64.and (local.get $s) (i64.const 0xffff))
                           (i64.shr_u (local.get $s) (i64.const 16))))
    (i32.wrap_i64 (local.get $s))))
