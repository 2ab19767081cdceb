"""Sentence banks for the sample corpus, written for this project; generate.py combines them (fixed seed)."""

ABSTRACT = {
    "fields": [
        "protein folding",
        "coastal erosion",
        "graph neural networks",
        "soil microbiology",
        "battery degradation",
        "speech recognition",
        "urban heat islands",
        "sparse linear solvers",
        "crop yield forecasting",
        "galaxy morphology",
        "antibiotic resistance",
        "visual question answering",
        "groundwater recharge",
        "optical tweezers",
        "language model pretraining",
    ],
    "titles": [
        "{field}: a systematic study",
        "Revisiting {field} with simple baselines",
        "Towards reproducible {field}",
        "On the limits of current approaches to {field}",
        "A benchmark for {field}",
        "{field} at scale",
        "Measuring uncertainty in {field}",
    ],
    "openings": [
        "We study {field} under realistic conditions.",
        "Progress in {field} has been hard to measure because evaluation protocols differ between groups.",
        "This paper revisits {field} from a data-centric point of view.",
        "Despite decades of work, {field} remains poorly understood at small scales.",
        "Recent advances have made {field} cheaper, but not necessarily more reliable.",
        "We present a new dataset and a set of baselines for {field}.",
        "Little is known about how {field} behaves when the training distribution shifts.",
    ],
    "methods": [
        "We collect 12,400 annotated samples from four independent sites.",
        "Our method combines a convolutional encoder with a small recurrent decoder.",
        "We fit hierarchical Bayesian models and compare them with gradient-boosted trees.",
        "Measurements were taken every 15 minutes over two full seasons.",
        "A controlled ablation isolates the effect of each component.",
        "We release all code, raw measurements and trained weights under an open licence.",
        "The simulation uses a finite-volume scheme with adaptive time steps.",
        "Participants (n = 214) completed the protocol in a randomised order.",
        "We pre-register the hypotheses and the analysis plan before collecting data.",
        "Each experiment is repeated with five random seeds, and we report the mean and standard deviation.",
        "Samples were sequenced to an average depth of 38x and aligned to the reference genome.",
        "We derive a closed-form bound and check it numerically on synthetic instances.",
        "Training uses 8 GPUs for 36 hours with a cosine learning-rate schedule.",
        "We annotate disagreements between raters and resolve them by majority vote.",
        "The instrument was calibrated against a reference standard before every session.",
        "A linear probe on frozen features serves as the main evaluation.",
    ],
    "results": [
        "The proposed approach reduces the error by 23% relative to the strongest baseline.",
        "Gains are largest for rare classes, where the baseline often fails completely.",
        "We find no significant difference between the two treatments (p = 0.41).",
        "Performance degrades gracefully as the amount of labelled data shrinks.",
        "Surprisingly, a simple nearest-neighbour rule matches most published systems.",
        "The effect persists after controlling for site, season and instrument.",
        "Our estimates agree with field observations within the measurement uncertainty.",
        "Scaling the model from 100M to 1B parameters improves accuracy by 4.2 points.",
        "Errors concentrate on inputs that are long, noisy or written in low-resource languages.",
        "The fitted exponent is 0.73 ± 0.05, close to the theoretical prediction.",
        "Runtime grows linearly with the input size up to 10^7 elements.",
        "Agreement between annotators reached a Cohen's kappa of 0.81.",
        "Ablating the pretraining stage costs 9 points on average across tasks.",
        "The method is robust to moderate label noise but not to systematic bias.",
    ],
    "closings": [
        "These results suggest that evaluation, not modelling, is the current bottleneck.",
        "We discuss limitations and outline directions for future work.",
        "Our findings call for larger and more diverse benchmarks.",
        "The dataset and code are available to the community.",
        "We hope this study serves as a reference point for future comparisons.",
        "Practical guidelines for practitioners are provided in the appendix.",
        "Further work is needed to understand the mechanism behind this effect.",
    ],
}

LANGUAGES = {
    "en": {
        "titles": ["River delta", "Lighthouse", "Printing press"],
        "sentences": [
            "A river delta forms where a river meets a slower body of water and drops its sediment.",
            "Deltas are often fertile and densely populated.",
            "The shape of a delta depends on the balance between river flow, waves and tides.",
            "Lighthouses guided ships along dangerous coasts for centuries.",
            "Early lighthouses burned wood or coal in open fires.",
            "Modern lights are automated and need little maintenance.",
            "The printing press made books cheaper and spread literacy across Europe.",
            "Movable type allowed a printer to reuse individual letters many times.",
            "Within fifty years, millions of books had been printed.",
            "Historians still debate how quickly the new technology changed everyday life.",
        ],
    },
    "de": {
        "titles": ["Mühle", "Alpen", "Buchdruck"],
        "sentences": [
            "Eine Wassermühle nutzt die Kraft des fließenden Wassers, um Getreide zu mahlen.",
            "Im Mittelalter gehörten Mühlen oft dem Grundherrn.",
            "Die Alpen erstrecken sich über acht Staaten Europas.",
            "Der höchste Gipfel der Alpen ist der Mont Blanc mit über 4800 Metern.",
            "Gletscher haben die Täler der Alpen über Jahrtausende geformt.",
            "Viele Pässe waren schon in der Römerzeit wichtige Handelswege.",
            "Der Buchdruck mit beweglichen Lettern veränderte die Verbreitung von Wissen grundlegend.",
            "Straßenbahnen fahren in vielen Städten wieder häufiger als früher.",
        ],
    },
    "vi": {
        "titles": ["Sông Mê Kông", "Phở", "Vịnh Hạ Long"],
        "sentences": [
            "Sông Mê Kông chảy qua sáu quốc gia trước khi đổ ra Biển Đông.",
            "Đồng bằng sông Cửu Long là vựa lúa lớn nhất của Việt Nam.",
            "Phở là món ăn truyền thống gồm bánh phở, nước dùng và thịt bò hoặc gà.",
            "Nước dùng thường được ninh trong nhiều giờ với xương và gia vị.",
            "Vịnh Hạ Long có hàng nghìn hòn đảo đá vôi nhô lên khỏi mặt nước.",
            "Năm 1994, vịnh được công nhận là di sản thiên nhiên thế giới.",
            "Du khách thường đi thuyền để ngắm các hang động trong vịnh.",
        ],
    },
    "ru": {
        "titles": ["Байкал", "Тайга", "Метрополитен"],
        "sentences": [
            "Байкал — самое глубокое озеро на Земле, его глубина превышает 1600 метров.",
            "В озере содержится около пятой части мировых запасов пресной воды.",
            "Зимой лёд на Байкале бывает настолько прозрачным, что видно дно.",
            "Тайга — это северный лес, состоящий в основном из хвойных деревьев.",
            "Тайга занимает огромные пространства Сибири и Канады.",
            "Московский метрополитен открылся в 1935 году.",
            "Многие станции украшены мозаикой, мрамором и люстрами.",
            "Каждый день метро перевозит миллионы пассажиров.",
        ],
    },
    "el": {
        "titles": ["Ακρόπολη", "Ελιά", "Αιγαίο"],
        "sentences": [
            "Η Ακρόπολη της Αθήνας είναι ένας βραχώδης λόφος με αρχαία μνημεία.",
            "Ο Παρθενώνας χτίστηκε τον πέμπτο αιώνα π.Χ. προς τιμήν της θεάς Αθηνάς.",
            "Η ελιά καλλιεργείται στην Ελλάδα εδώ και χιλιάδες χρόνια.",
            "Το ελαιόλαδο είναι βασικό στοιχείο της μεσογειακής διατροφής.",
            "Το Αιγαίο Πέλαγος έχει πάνω από χίλια νησιά.",
            "Τα μελτέμια είναι δυνατοί βόρειοι άνεμοι που πνέουν το καλοκαίρι.",
            "Πολλά νησιά συνδέονται με την ηπειρωτική χώρα μόνο με πλοίο.",
        ],
    },
    "ar": {
        "titles": ["نهر النيل", "الخط العربي", "الصحراء"],
        "sentences": [
            "نهر النيل هو أطول نهر في أفريقيا ويمر عبر عدة دول.",
            "اعتمدت الزراعة في مصر القديمة على فيضان النيل السنوي.",
            "الخط العربي فن قديم يجمع بين الكتابة والزخرفة.",
            "من أشهر أنواع الخط العربي النسخ والثلث والكوفي.",
            "تغطي الصحراء الكبرى مساحة واسعة من شمال أفريقيا.",
            "تنخفض درجات الحرارة في الصحراء كثيرًا أثناء الليل.",
            "تعيش في الصحراء نباتات وحيوانات تكيفت مع قلة المياه.",
        ],
    },
    "he": {
        "titles": ["ים המלח", "ירושלים", "קיבוץ"],
        "sentences": [
            "ים המלח הוא הנקודה הנמוכה ביותר על פני היבשה.",
            "מליחות המים גבוהה כל כך שאפשר לצוף בקלות.",
            "מפלס ים המלח יורד בכל שנה.",
            "ירושלים היא אחת הערים העתיקות בעולם.",
            "בעיר העתיקה יש ארבעה רבעים.",
            "הקיבוץ הוא יישוב שיתופי שהוקם בתחילת המאה העשרים.",
            "בקיבוצים רבים עוסקים היום גם בתעשייה ובתיירות.",
        ],
    },
    "hi": {
        "titles": ["गंगा नदी", "हिमालय", "मानसून"],
        "sentences": [
            "गंगा भारत की सबसे पवित्र नदियों में से एक मानी जाती है।",
            "गंगा हिमालय के गंगोत्री हिमनद से निकलती है।",
            "हिमालय दुनिया की सबसे ऊँची पर्वत श्रृंखला है।",
            "माउंट एवरेस्ट की ऊँचाई लगभग 8849 मीटर है।",
            "मानसून भारत में जून से सितंबर तक वर्षा लाता है।",
            "किसान अपनी फसलों के लिए मानसून पर निर्भर रहते हैं।",
            "अच्छी वर्षा से नदियों और जलाशयों में पानी भर जाता है।",
        ],
    },
    "bn": {
        "titles": ["পদ্মা নদী", "সুন্দরবন", "বর্ষা"],
        "sentences": [
            "পদ্মা বাংলাদেশের একটি প্রধান নদী।",
            "সুন্দরবন পৃথিবীর সবচেয়ে বড় ম্যানগ্রোভ বন।",
            "এই বনে রয়েল বেঙ্গল টাইগার বাস করে।",
            "জোয়ার ও ভাটার সাথে বনের অনেক অংশ পানিতে ডুবে যায়।",
            "বর্ষাকালে গ্রামের পথঘাট কাদায় ভরে যায়।",
            "বাংলা সাহিত্যে বর্ষা নিয়ে অনেক কবিতা লেখা হয়েছে।",
        ],
    },
    "th": {
        "titles": ["แม่น้ำเจ้าพระยา", "ข้าวหอมมะลิ", "สงกรานต์"],
        "sentences": [
            "แม่น้ำเจ้าพระยาไหลผ่านกรุงเทพมหานครก่อนลงสู่อ่าวไทย",
            "ในอดีตผู้คนเดินทางและค้าขายกันทางเรือเป็นหลัก",
            "ข้าวหอมมะลิเป็นข้าวที่มีกลิ่นหอมและปลูกมากในภาคตะวันออกเฉียงเหนือ",
            "เทศกาลสงกรานต์เป็นวันขึ้นปีใหม่ตามประเพณีไทย",
            "ในช่วงสงกรานต์ผู้คนจะสาดน้ำกันเพื่อความเป็นสิริมงคล",
            "ตลาดน้ำเป็นสถานที่ท่องเที่ยวที่มีชื่อเสียง",
        ],
    },
    "zh": {
        "titles": ["长江", "造纸术", "茶"],
        "sentences": [
            "长江是中国最长的河流，全长约六千三百公里。",
            "长江流域人口众多，经济十分发达。",
            "三峡大坝是世界上最大的水电站之一。",
            "造纸术是中国古代的四大发明之一。",
            "东汉时期，蔡伦改进了造纸的方法。",
            "茶起源于中国，已有数千年的历史。",
            "不同地区的人们喜欢不同种类的茶，比如绿茶、红茶和乌龙茶。",
            "喝茶在许多家庭中是日常生活的一部分。",
        ],
    },
    "ja": {
        "titles": ["富士山", "新幹線", "和紙"],
        "sentences": [
            "富士山は日本で最も高い山で、標高は三千七百七十六メートルです。",
            "夏になると、多くの登山者が山頂を目指します。",
            "新幹線は一九六四年に東京と大阪の間で開業しました。",
            "新幹線はとても正確に運行されることで知られています。",
            "和紙は植物の繊維から作られる伝統的な紙です。",
            "障子やふすまにも和紙が使われています。",
            "ひらがなとカタカナと漢字を組み合わせて文章を書きます。",
        ],
    },
    "ko": {
        "titles": ["한글", "김치", "한강"],
        "sentences": [
            "한글은 1443년에 세종대왕이 창제한 문자입니다.",
            "한글은 자음과 모음을 조합하여 글자를 만듭니다.",
            "김치는 배추와 무에 양념을 넣어 발효시킨 음식입니다.",
            "가을이 되면 많은 가정에서 김장을 합니다.",
            "한강은 서울을 가로질러 흐르는 큰 강입니다.",
            "강변에는 공원과 자전거 길이 많이 있습니다.",
        ],
    },
    "ka": {
        "titles": ["კავკასიონი", "თბილისი", "ღვინო"],
        "sentences": [
            "კავკასიონის მთები საქართველოს ჩრდილოეთით მდებარეობს.",
            "თბილისი საქართველოს დედაქალაქია.",
            "ქალაქი მდინარე მტკვრის ნაპირებზეა გაშენებული.",
            "საქართველოში ღვინოს ათასობით წლის განმავლობაში აყენებენ.",
            "ღვინოს ტრადიციულად ქვევრში, მიწაში ჩაფლულ თიხის ჭურჭელში ინახავენ.",
        ],
    },
}

WEB = {
    "recipes": [
        "Preheat the oven to 200 °C and line a baking tray with paper.",
        "Chop the onions finely and fry them in olive oil until golden.",
        "Add two cloves of garlic, a pinch of salt and a teaspoon of cumin.",
        "Stir in the lentils and cover them with about a litre of water.",
        "Simmer for 25 minutes, stirring now and then so nothing sticks.",
        "Season to taste and finish with a squeeze of lemon juice. 🍋",
        "This soup keeps well in the fridge for three days and freezes nicely.",
        "If you like it spicy, add chilli flakes at the end. 🌶️",
        "Serve with warm bread and a simple green salad.",
        "Leftovers make a great filling for wraps the next day!",
    ],
    "travel": [
        "We arrived at the station just after sunrise and caught the first bus into the hills.",
        "The trail climbs steadily through pine forest for about two hours.",
        "Bring enough water: there are no shops once you leave the village.",
        "From the ridge you can see three lakes and, on a clear day, the sea.",
        "The hostel was basic but clean, and breakfast was included.",
        "Tickets cost €12 for adults and €6 for children under 14.",
        "We spent the afternoon wandering the old town and its narrow streets. 🏰",
        "Our favourite stop was a tiny café that served homemade cakes. ☕",
        "In summer the museum stays open until 9 pm on Fridays.",
        "Next time we would book the sleeper train instead of flying. 🚆",
    ],
    "gardening": [
        "Tomatoes need at least six hours of direct sun every day.",
        "Water deeply once or twice a week rather than a little every day.",
        "A layer of mulch keeps the soil moist and suppresses weeds.",
        "Sow carrots directly into the bed; they do not like being transplanted.",
        "Pinch out the side shoots of cordon tomatoes as they appear. 🍅",
        "Compost improves the structure of both sandy and clay soils.",
        "Slugs are most active on damp evenings, so check the seedlings after rain.",
        "Rotate crops each year to reduce the build-up of pests and diseases.",
        "Herbs such as thyme and rosemary prefer poor, well-drained soil. 🌿",
    ],
    "reviews": [
        "I have used this kettle every day for six months and it still works perfectly.",
        "The battery easily lasts two days with normal use.",
        "Setup took less than ten minutes and the instructions were clear.",
        "The only downside is that the lid feels a bit flimsy.",
        "Customer service replied within a day and sent a replacement part. 👍",
        "For the price, the sound quality is surprisingly good.",
        "It is heavier than it looks, so keep that in mind if you travel a lot.",
        "Four stars: great value, but the cable could be longer. ⭐⭐⭐⭐",
        "Would I buy it again? Probably yes.",
    ],
    "cycling": [
        "Check your tyre pressure before every ride; it makes a big difference.",
        "A chain that squeaks needs cleaning and a few drops of oil.",
        "On long climbs, shift to an easier gear before the slope gets steep.",
        "Lights are required by law after dark in most countries. 🚲",
        "Carry a spare tube, tyre levers and a small pump.",
        "Riding in a group saves energy because you can draft behind others.",
        "Our club meets every Saturday at 8 am by the old bridge.",
        "The route is 64 km long with about 900 m of climbing.",
    ],
}

CODE = {
    "Python": (
        "py",
        [
            "def fibonacci(n: int) -> list[int]:\n"
            '    """The first n Fibonacci numbers."""\n    out = [0, 1]\n'
            "    while len(out) < n:\n        out.append(out[-1] + out[-2])\n    return out[:n]",
            "class Stack:\n    def __init__(self):\n        self._items = []\n\n    def push(self, item):\n"
            "        self._items.append(item)\n\n    def pop(self):\n        if not self._items:\n"
            '            raise IndexError("pop from empty stack")\n        return self._items.pop()',
            'import json\n\n\ndef load_config(path):\n    with open(path, encoding="utf-8") as f:\n'
            '        config = json.load(f)\n    config.setdefault("limit", LIMIT)\n    return config',
            'if __name__ == "__main__":\n    for i, x in enumerate(fibonacci(LIMIT)):\n'
            '        print(f"{i:3d} {x}")',
        ],
    ),
    "Rust": (
        "rs",
        [
            "use std::collections::HashMap;\n\nfn word_counts(text: &str) -> HashMap<&str, usize> {\n"
            "    let mut counts = HashMap::new();\n    for word in text.split_whitespace() {\n"
            "        *counts.entry(word).or_insert(0) += 1;\n    }\n    counts\n}",
            "#[derive(Debug, Clone, PartialEq)]\npub struct Point {\n    pub x: f64,\n    pub y: f64,\n}\n\n"
            "impl Point {\n    pub fn distance(&self, other: &Point) -> f64 {\n"
            "        ((self.x - other.x).powi(2) + (self.y - other.y).powi(2)).sqrt()\n    }\n}",
            "fn main() {\n    let limit = LIMIT;\n"
            "    let squares: Vec<u64> = (1..=limit).map(|i| i * i).collect();\n"
            '    println!("{:?}", squares);\n}',
        ],
    ),
    "JavaScript": (
        "js",
        [
            "export function debounce(fn, wait = LIMIT) {\n  let timer = null;\n  return (...args) => {\n"
            "    clearTimeout(timer);\n    timer = setTimeout(() => fn(...args), wait);\n  };\n}",
            "const fetchJson = async (url) => {\n  const response = await fetch(url);\n"
            "  if (!response.ok) {\n"
            "    throw new Error(`HTTP ${response.status} for ${url}`);\n  }\n  return response.json();\n};",
            "document.querySelectorAll('button.toggle').forEach((button) => {\n"
            "  button.addEventListener('click', () => button.classList.toggle('active'));\n});",
        ],
    ),
    "C": (
        "c",
        [
            "#include <stdio.h>\n#include <stdlib.h>\n\nstatic int compare(const void *a, const void *b) {\n"
            "    return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);\n}",
            "int main(void) {\n    int values[LIMIT];\n"
            "    for (int i = 0; i < LIMIT; i++) values[i] = (i * 7919) % 101;\n"
            "    qsort(values, LIMIT, sizeof values[0], compare);\n"
            '    for (int i = 0; i < LIMIT; i++) printf("%d\\n", values[i]);\n    return 0;\n}',
            "size_t count_lines(FILE *f) {\n    size_t n = 0;\n    int c;\n"
            "    while ((c = fgetc(f)) != EOF)\n        if (c == '\\n') n++;\n    return n;\n}",
        ],
    ),
    "Go": (
        "go",
        [
            'package main\n\nimport (\n\t"fmt"\n\t"strings"\n)\n\nfunc reverse(s string) string {\n'
            "\tr := []rune(s)\n\tfor i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {\n"
            "\t\tr[i], r[j] = r[j], r[i]\n"
            "\t}\n\treturn string(r)\n}",
            "func main() {\n\tfor i := 0; i < LIMIT; i++ {\n"
            '\t\tfmt.Println(strings.Repeat("*", i%8), reverse("héllo"))\n'
            "\t}\n}",
        ],
    ),
    "SQL": (
        "sql",
        [
            "CREATE TABLE orders (\n    id INTEGER PRIMARY KEY,\n    customer_id INTEGER NOT NULL,\n"
            "    total NUMERIC(10, 2) NOT NULL,\n    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP\n);",
            "SELECT customer_id, COUNT(*) AS n_orders, SUM(total) AS revenue\nFROM orders\n"
            "WHERE created_at >= DATE '2024-01-01'\nGROUP BY customer_id\nHAVING COUNT(*) > 1\n"
            "ORDER BY revenue DESC\nLIMIT LIMIT;",
        ],
    ),
    "Haskell": (
        "hs",
        [
            "module Main where\n\nimport Data.List (sortBy)\nimport Data.Ord (comparing)\n\n"
            "quicksort :: Ord a => [a] -> [a]\nquicksort [] = []\n"
            "quicksort (p:xs) = quicksort [x | x <- xs, x < p] ++ [p] ++ quicksort [x | x <- xs, x >= p]",
            "main :: IO ()\nmain = mapM_ print (take LIMIT (quicksort [9, 3, 7, 1, 8, 2]))",
        ],
    ),
    "Shell": (
        "sh",
        [
            '#!/usr/bin/env bash\nset -euo pipefail\n\nfor f in "$@"; do\n  lines=$(wc -l < "$f")\n'
            '  echo "$f: $lines lines"\ndone',
            'backup_dir="${HOME}/backups/$(date +%Y-%m-%d)"\nmkdir -p "$backup_dir"\n'
            'find . -name "*.conf" -mtime -LIMIT -exec cp {} "$backup_dir" \\;',
        ],
    ),
}
