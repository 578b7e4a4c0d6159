"""The demo school's content: its name and contact details, channels and
sections, posts and which of them are pinned, summarised or illustrated.
operations/demo.py loads it; operations/democlear.py recognises it (on sites
that loaded the demo before its rows were recorded as origins)."""

from models import Status

SOURCE = "demo"


SETTINGS = {
    "school_name": "阳光实验中学",
    "phone": "010-6288 1234",
    "address": "北京市海淀区阳光路 88 号",
    "footer_text": "立德树人 · 阳光成长",
    "icp_number": "京ICP备12345678号-1",
}


# (channel slug, name, [(section slug, name), ...])
SECTIONS = [
    (
        "about",
        "学校概况",
        [
            ("introduction", "学校简介"),
            ("principal", "校长寄语"),
            ("philosophy", "办学理念"),
            ("honors", "学校荣誉"),
        ],
    ),
    (
        "news",
        "新闻中心",
        [("headlines", "学校要闻"), ("campus", "校园动态"), ("notices", "通知公告")],
    ),
    (
        "teaching",
        "教学科研",
        [("research", "教研动态"), ("classroom", "课堂教学"), ("teachers", "教师发展")],
    ),
    (
        "moral",
        "德育天地",
        [
            ("activities", "主题活动"),
            ("classes", "班级风采"),
            ("wellbeing", "心理健康"),
        ],
    ),
    (
        "admissions",
        "招生信息",
        [("brochure", "招生简章"), ("faq", "招生问答")],
    ),
]


# (section slug, title, source, theme, kind); kind picks the body's shape.
ARTICLES = [
    ("introduction", "阳光实验中学简介", "校长办公室", "学校概况", "intro"),
    ("principal", "校长寄语：做温暖而有力量的教育", "校长办公室", "育人初心", "letter"),
    ("philosophy", "学校办学理念与育人目标", "校长办公室", "立德树人", "news"),
    ("honors", "我校荣获“省级文明校园”称号", "校长办公室", "文明校园创建", "news"),
    ("honors", "我校获评市级科技创新教育示范学校", "教科室", "科技创新教育", "news"),
    ("headlines", "我校隆重举行高三毕业典礼", "团委", "感恩与梦想", "news"),
    (
        "headlines",
        "我校召开新学期全体教职工大会",
        "校长办公室",
        "凝心聚力谋发展",
        "news",
    ),
    (
        "headlines",
        "市教育局领导莅临我校调研指导工作",
        "校长办公室",
        "教育教学质量提升",
        "news",
    ),
    # 开学 occurs in this post only: tests/test_search.py searches the demo for it.
    ("headlines", "我校举行新学年开学典礼暨表彰大会", "德育处", "逐梦新学期", "news"),
    ("headlines", "我校高考成绩再创佳绩", "教务处", "高考备考", "news"),
    (
        "headlines",
        "我校与阳光大学签订人才培养合作协议",
        "校长办公室",
        "大中衔接育人",
        "news",
    ),
    ("campus", "我校举行春季田径运动会", "体育组", "阳光体育 活力校园", "news"),
    ("campus", "第十二届校园科技节圆满落幕", "教科室", "科技点亮梦想", "news"),
    ("campus", "“书香校园”读书月活动正式启动", "图书馆", "书香校园", "news"),
    ("campus", "我校合唱团在市中小学艺术展演中获一等奖", "艺术组", "美育浸润", "news"),
    ("campus", "食堂开展“光盘行动”主题宣传周", "后勤处", "厉行节约 反对浪费", "news"),
    ("campus", "我校举行消防安全应急疏散演练", "安全办", "校园安全", "news"),
    ("notices", "关于寒假放假安排的通知", "校长办公室", "寒假放假安排", "notice"),
    ("notices", "关于期末考试安排的通知", "教务处", "期末考试安排", "exam"),
    ("notices", "关于举办校园开放日活动的通知", "招生办", "校园开放日", "notice"),
    ("notices", "关于做好秋冬季传染病防控工作的通知", "卫生室", "传染病防控", "notice"),
    ("notices", "关于召开期中家长会的通知", "德育处", "家校共育", "notice"),
    ("research", "我校举行青年教师课堂教学比赛", "教务处", "青年教师成长", "news"),
    ("research", "我校承办全市初中数学教研活动", "教科室", "数学核心素养", "news"),
    ("research", "语文组开展大单元教学专题研讨", "语文组", "大单元教学", "news"),
    ("research", "我校两项课题通过市级立项", "教科室", "课题研究", "news"),
    ("classroom", "物理组开展“走进生活的物理”公开课", "物理组", "生活中的物理", "news"),
    ("classroom", "英语课堂引入情景剧教学", "英语组", "情景化教学", "news"),
    ("classroom", "信息技术课走进人工智能", "信息技术组", "人工智能启蒙", "news"),
    ("teachers", "我校举行新教师入职培训", "教师发展中心", "新教师成长", "news"),
    ("teachers", "“青蓝工程”师徒结对仪式举行", "教师发展中心", "青蓝工程", "news"),
    ("teachers", "我校教师在省优质课评比中获一等奖", "教务处", "优质课评比", "news"),
    ("activities", "我校开展“学雷锋 志愿行”主题活动", "团委", "志愿服务", "news"),
    ("activities", "清明节缅怀革命先烈主题教育活动", "德育处", "缅怀先烈", "news"),
    ("activities", "十四岁集体生日暨青春仪式举行", "德育处", "青春责任", "news"),
    ("activities", "我校举行“国家宪法日”主题升旗仪式", "团委", "宪法教育", "news"),
    ("classes", "初二（3）班：团结奋进的温暖集体", "德育处", "班级建设", "news"),
    ("classes", "高一（5）班获评“优秀班集体”", "德育处", "优秀班集体", "news"),
    ("wellbeing", "我校开展“5·25”心理健康活动月", "心理健康中心", "阳光心态", "news"),
    ("wellbeing", "考前心理减压团体辅导走进高三", "心理健康中心", "考前减压", "news"),
    (
        "wellbeing",
        "给家长的一封信：如何陪伴孩子度过青春期",
        "心理健康中心",
        "青春期陪伴",
        "letter",
    ),
    ("brochure", "阳光实验中学初一新生招生简章", "招生办", "初一招生", "admission"),
    ("brochure", "高中部招生计划公布", "招生办", "高中招生", "admission"),
    ("faq", "招生常见问题解答", "招生办", "招生咨询", "faq"),
    ("faq", "新生报到须知", "招生办", "新生报到", "notice"),
]


# Posts readers must never see: (section slug, title, status, hours from now).
HIDDEN_ARTICLES = [
    ("campus", "艺术节节目单初稿", Status.DRAFT, None),
    ("notices", "关于调整夏季作息时间的说明（草稿）", Status.DRAFT, None),
    ("research", "校本课程开发方案（征求意见稿）", Status.DRAFT, None),
    ("headlines", "我校学子在全国青少年科技创新大赛中获奖", Status.PENDING, None),
    ("notices", "家长委员会换届选举结果公示", Status.PENDING, None),
    ("campus", "元旦文艺汇演节目预告", Status.PUBLISHED, 24 * 5),
    ("notices", "寒假安全教育告家长书", Status.PUBLISHED, 24 * 12),
]


PINNED_TITLES = {
    "我校举行新学年开学典礼暨表彰大会",
    "阳光实验中学初一新生招生简章",
    "关于寒假放假安排的通知",
    "我校高考成绩再创佳绩",
}


# Posts whose bodies open with a table or a list read badly as derived summaries.
SUMMARIES = {
    "阳光实验中学初一新生招生简章": (
        "初一新生招生计划、报名条件和咨询方式，欢迎家长和同学们咨询。"
    ),
    "高中部招生计划公布": "高中部普通班、科技特色班和艺术特长班的招生计划与报名条件。",
    "关于期末考试安排的通知": "本学期期末考试的日期、时间、科目和考场要求。",
    "招生常见问题解答": "住宿、录取查询、特色课程、食堂用餐等家长最关心的问题。",
    "阳光实验中学简介": (
        "创办于 1958 年的完全中学，科技创新、阳光体育、书香校园特色鲜明。"
    ),
}


# title -> (scene, words on the picture); the picture goes into the body after
# the first paragraph, except for COVER_ONLY posts, which get it as a chosen
# cover (封面图) only.
PHOTOS = {
    "阳光实验中学简介": ("campus", "阳光实验中学"),
    "我校荣获“省级文明校园”称号": ("campus", "文明校园"),
    "我校获评市级科技创新教育示范学校": ("science", "科技创新"),
    "我校隆重举行高三毕业典礼": ("stage", "毕业典礼"),
    "我校召开新学期全体教职工大会": ("stage", "教职工大会"),
    "市教育局领导莅临我校调研指导工作": ("campus", "调研指导"),
    "我校举行新学年开学典礼暨表彰大会": ("stage", "开学典礼"),
    "我校与阳光大学签订人才培养合作协议": ("stage", "合作签约"),
    "我校举行春季田径运动会": ("sports", "春季田径运动会"),
    "第十二届校园科技节圆满落幕": ("science", "校园科技节"),
    "“书香校园”读书月活动正式启动": ("books", "书香校园"),
    "我校合唱团在市中小学艺术展演中获一等奖": ("music", "合唱展演"),
    "我校举行消防安全应急疏散演练": ("campus", "安全演练"),
    "我校举行青年教师课堂教学比赛": ("books", "课堂教学比赛"),
    "我校承办全市初中数学教研活动": ("books", "数学教研"),
    "物理组开展“走进生活的物理”公开课": ("science", "生活中的物理"),
    "信息技术课走进人工智能": ("science", "人工智能"),
    "“青蓝工程”师徒结对仪式举行": ("stage", "青蓝工程"),
    "我校开展“学雷锋 志愿行”主题活动": ("campus", "志愿服务"),
    "十四岁集体生日暨青春仪式举行": ("stage", "青春仪式"),
    "高一（5）班获评“优秀班集体”": ("music", "优秀班集体"),
    "我校开展“5·25”心理健康活动月": ("sports", "阳光心态"),
}


COVER_ONLY = {"阳光实验中学简介"}
