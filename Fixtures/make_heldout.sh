#!/usr/bin/env bash
# Generates a HELD-OUT set of Armenian clips that the tests never see (different sentences,
# voices and speeds from Fixtures/make_clips.py; a third of them mixed with white noise, some
# padded with extra silence) and records what Coqui STT 1.4.0 says for each (beam width from the
# model metadata = 500, 1 candidate, no scorer). Nothing it writes is committed.
#
#   <dir>/ho-01.wav .. ho-24.wav   16 kHz mono 16-bit PCM
#   <dir>/manifest.json            [{file, sentence, voice, speed, noise_vol, pad}]
#   <dir>/reference.json           {clip file name: Coqui STT 1.4.0 transcript}
#
# Deterministic: espeak-ng is deterministic, sox runs with -D (no dither) and -R (repeatable
# random numbers for `synth whitenoise`).
#
# Usage: Fixtures/make_heldout.sh [DIR]      (default /tmp/ds-heldout; env PEER, DS_PEERS_DIR)
set -euo pipefail
dir=${1:-/tmp/ds-heldout}
peer=${PEER:-/work/shared/peers/peer.py}
peers_dir=${DS_PEERS_DIR:-$HOME/.cache/ds-peers}
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# sentence | voice | speed | noise volume (0 = clean) | silence padded before/after (s)
# Everyday Eastern Armenian, none of them used by the committed test clips.
clips=(
  "Ես սիրում եմ կարդալ գրքեր երեկոյան։|hy+m6|145|0|0 0"                       # I love reading books in the evening.
  "Մեր հարևանը ունի մեծ սև շուն։|hy+m8|125|0|0 0"                             # Our neighbour has a big black dog.
  "Խանութը փակ է կիրակի օրերին։|hy+klatt|160|0.02|0 0"                        # The shop is closed on Sundays.
  "Այս ճաշը շատ աղի է։|hy+Annie|115|0|0.3 0.5"                               # This dish is very salty.
  "Նա ամեն օր խմում է երկու բաժակ թեյ։|hy+Andy|185|0|0 0"                     # He drinks two cups of tea every day.
  "Գնացքը մեկնում է ուղիղ ժամը յոթին։|hy+klatt3|150|0.02|0 0"                  # The train leaves at seven sharp.
  "Ուսուցիչը բացատրեց նոր դասը։|hy+anika|130|0|0 0"                           # The teacher explained the new lesson.
  "Ձյունը ծածկել է ամբողջ քաղաքը։|hy+david|170|0|0.5 0.2"                     # Snow has covered the whole city.
  "Իմ հեռախոսը չի աշխատում։|hy+m6|200|0.02|0 0"                               # My phone does not work.
  "Մենք պետք է գնենք կաթ և ձու։|hy+Alicia|140|0|0 0"                          # We need to buy milk and eggs.
  "Տատիկս թխում է ամենահամեղ գաթան։|hy+grandma|120|0|0 0"                     # My grandmother bakes the tastiest gata.
  "Այգում ծաղիկներն արդեն բացվել են։|hy+m8|155|0.02|0.2 0.2"                   # The flowers in the garden have already opened.
  "Բժիշկն ասաց, որ պետք է հանգստանալ։|hy+klatt2|135|0|0 0"                     # The doctor said one needs to rest.
  "Կարո՞ղ եք ինձ ցույց տալ ճանապարհը։|hy+belinda|165|0|0 0"                    # Could you show me the way?
  "Եղբայրս ֆուտբոլ է խաղում դպրոցի թիմում։|hy+edward|175|0.02|0 0"             # My brother plays football in the school team.
  "Վաղն անձրև է սպասվում։|hy+Andrea|110|0|0 0.6"                              # Rain is expected tomorrow.
  "Ես մոռացել եմ բանալիները տանը։|hy+john|150|0|0 0"                          # I have left the keys at home.
  "Արարատ լեռը երևում է Երևանից։|hy+klatt4|140|0.02|0 0"                       # Mount Ararat can be seen from Yerevan.
  "Խնդրում եմ, խոսեք ավելի դանդաղ։|hy+linda|125|0|0 0"                         # Please speak more slowly.
  "Մեր ընտանիքն ամռանը գնում է գյուղ։|hy+m6|165|0|0 0"                         # Our family goes to the village in summer.
  "Սեղանի վրա մի տուփ կոնֆետ կա։|hy+Gene|145|0.02|0 0"                         # There is a box of sweets on the table.
  "Քաղաքի կենտրոնում նոր թանգարան են բացել։|hy+steph|180|0|0 0"               # A new museum has opened in the city centre.
  "Աշնանը ծառերի տերևները դեղնում են։|hy+m8|135|0|0 0"                         # In autumn the leaves turn yellow.
  "Ես ուզում եմ սովորել դաշնամուր նվագել։|hy+klatt|190|0.02|0.4 0"              # I want to learn to play the piano.
)

manifest=()
wavs=()
for i in "${!clips[@]}"; do
  IFS='|' read -r sentence voice speed noise pad <<< "${clips[$i]}"
  name=$(printf 'ho-%02d.wav' $((i + 1)))
  out=$dir/$name
  echo "+ $name: espeak-ng -v $voice -s $speed \"$sentence\"  (noise $noise, pad $pad)" >&2
  espeak-ng -v "$voice" -s "$speed" -w "$tmp/raw.wav" "$sentence"
  # vol 0.8: some variants (klatt, grandma, ...) are loud enough to clip after resampling
  sox -D "$tmp/raw.wav" -r 16000 -c 1 -b 16 -e signed-integer "$tmp/clean.wav" vol 0.8 pad $pad
  if [ "$noise" != "0" ]; then
    dur=$(soxi -D "$tmp/clean.wav")
    sox -R -D -n -r 16000 -c 1 -b 16 -e signed-integer "$tmp/noise.wav" synth "$dur" whitenoise vol "$noise"
    sox -D -m -v 1 "$tmp/clean.wav" -v 1 "$tmp/noise.wav" -b 16 -e signed-integer "$out"
  else
    cp "$tmp/clean.wav" "$out"
  fi
  manifest+=("$name|$sentence|$voice|$speed|$noise|$pad")
  wavs+=("$out")
done

printf '%s\n' "${manifest[@]}" | python3 -c '
import json, sys
rows = []
for line in sys.stdin:
    f, s, v, sp, n, pad = line.rstrip("\n").split("|")
    rows.append({"file": f, "sentence": s, "voice": v, "speed": int(sp), "noise_vol": float(n),
                 "pad_seconds": [float(x) for x in pad.split()]})
json.dump(rows, open(sys.argv[1], "w", encoding="utf-8"), ensure_ascii=False, indent=1)
' "$dir/manifest.json"

echo "+ python3 $peer --engine stt --candidates 1 <${#wavs[@]} clips> > $dir/reference.json" >&2
python3 "$peer" --peers-dir "$peers_dir" --engine stt --candidates 1 "${wavs[@]}" 2>/dev/null | python3 -c '
import json, os, sys
ref = {}
for line in sys.stdin:
    if line.startswith("{"):
        r = json.loads(line)
        ref[os.path.basename(r["file"])] = r["text"]
json.dump(ref, open(sys.argv[1], "w", encoding="utf-8"), ensure_ascii=False, indent=1)
for k, v in ref.items():
    print(f"{k}  {v}")
' "$dir/reference.json"
echo "wrote ${#wavs[@]} clips, $dir/manifest.json, $dir/reference.json" >&2
