"""A small invented service guide (办事指南) catalog, in the shape the platform serves.

Each matter has pinyin initials (`initials`, plus `keywords` for short names) so the
terminal can search without a Chinese input method.
"""

from __future__ import annotations

from typing import Any

CENTRE = "东莞市民服务中心（南城街道鸿福路99号）"
HOURS = "周一至周五 9:00–12:00，13:30–17:30；周六 9:00–12:00"

def _names(en: str, hk: str) -> dict[str, str]:
    """The name in English and in Traditional Chinese (the platform serves all three)."""
    return {"en": en, "zh_HK": hk}


CATEGORIES = [
    {"id": "ss", "name": "社会保险", "name_i18n": _names("Social insurance", "社會保險")},
    {"id": "hf", "name": "住房公积金", "name_i18n": _names("Housing provident fund", "住房公積金")},
    {"id": "tax", "name": "税务", "name_i18n": _names("Tax", "稅務")},
    {"id": "re", "name": "不动产登记",
     "name_i18n": _names("Real estate registration", "不動產登記")},
    {"id": "hh", "name": "户籍与证件",
     "name_i18n": _names("Household register and IDs", "戶籍與證件")},
]

MATTER_NAMES = {
    "ss-cert": _names("Print a social insurance contribution certificate",
                      "社會保險參保繳費證明打印"),
    "ss-transfer": _names("Transfer of basic pension insurance", "基本養老保險關係轉移"),
    "ss-card": _names("Replace a social security card", "社會保障卡補換"),
    "ss-flex": _names("Insurance registration for flexible workers", "靈活就業人員參保登記"),
    "hf-withdraw": _names("Housing fund withdrawal (renting)", "住房公積金提取（租房）"),
    "hf-loan": _names("Housing fund loan application", "住房公積金貸款申請"),
    "hf-repay": _names("Housing fund loan repayment details", "公積金貸款還款明細查詢"),
    "tax-list": _names("Individual income tax list (tax certificate)",
                       "個人所得稅納稅清單（完稅證明）開具"),
    "tax-annual": _names("Annual income tax reconciliation", "個人所得稅綜合所得年度匯算"),
    "tax-invoice": _names("VAT invoice issued on your behalf", "代開增值稅發票"),
    "re-query": _names("Print a property registration search result", "不動產登記查詢結果打印"),
    "re-transfer": _names("Transfer registration of a second-hand home", "二手房轉移登記"),
    "re-mortgage": _names("Property mortgage registration", "不動產抵押登記"),
    "hh-id": _names("Renew a resident ID card", "居民身份證換領"),
    "hh-residence": _names("Apply for a residence permit", "居住證申領"),
    "hh-move": _names("Move your household registration (joining family)",
                      "戶口遷入（投靠）"),
}


WORDS = {"ss": ["社保", "社会保险"], "hf": ["公积金", "住房公积金"],
         "tax": ["个税", "税务", "纳税"], "re": ["房产", "不动产", "无房证明"],
         "hh": ["户口", "户籍", "证件"]}


def _m(mid: str, name: str, cat: str, initials: str, keywords: list[str],
       conditions: list[str], materials: list[tuple[str, str]], fee: str, limit: str,
       where: str, window: str) -> dict[str, Any]:
    return {"id": mid, "name": name, "name_i18n": MATTER_NAMES[mid], "category": cat,
            "initials": initials,
            "keywords": keywords, "search_words": WORDS[cat],
            "conditions": [{"text": c} for c in conditions],
            "materials": [{"name": n, "note": note} for n, note in materials],
            "fee": fee, "time_limit": limit, "location": where, "window": window,
            "hours": HOURS, "phone": "12345"}


MATTERS = [
    _m("ss-cert", "社会保险参保缴费证明打印", "ss", "SHBXCBJFZMDY", ["SB", "CBZM", "JFZM"],
       ["在本市参加社会保险的参保人", "本人持有效身份证件办理"],
       [("居民身份证或社会保障卡", "原件"), ("委托他人办理的，另需委托书", "原件1份")],
       "不收费", "即时办结", CENTRE, "A区 1–6号窗口；或自助终端即时打印"),
    _m("ss-transfer", "基本养老保险关系转移", "ss", "JBYLBXGXZY", ["SB", "YLZY"],
       ["已在转出地参保并缴费", "在本市已建立养老保险关系"],
       [("居民身份证", "原件及复印件1份"), ("参保缴费凭证", "原件"),
        ("基本养老保险关系转移接续申请表", "1份")],
       "不收费", "15个工作日", CENTRE, "A区 1–6号窗口"),
    _m("ss-card", "社会保障卡补换", "ss", "SHBZKBH", ["SBK", "BK"],
       ["社会保障卡遗失、损坏或信息变更", "本人已办理挂失（遗失时）"],
       [("居民身份证", "原件"), ("近期免冠证件照", "1张（可现场拍照）")],
       "补卡工本费20元（损坏换卡免费）", "即时制卡（部分网点5个工作日）", CENTRE,
       "A区 1–6号窗口"),
    _m("ss-flex", "灵活就业人员参保登记", "ss", "LHJYRYCBDJ", ["SB", "LHJY"],
       ["本市户籍或持有本市居住证", "无雇工的个体工商户或灵活就业人员"],
       [("居民身份证", "原件"), ("居住证（非本市户籍）", "原件"), ("银行账户信息", "1份")],
       "不收费", "即时办结", CENTRE, "A区 1–6号窗口"),
    _m("hf-withdraw", "住房公积金提取（租房）", "hf", "ZFGJJTQZF", ["GJJ", "TQ"],
       ["本人及配偶在本市无自有住房", "连续足额缴存住房公积金满3个月"],
       [("居民身份证", "原件"), ("本人银行卡", "原件"), ("无房证明", "可在自助终端打印")],
       "不收费", "3个工作日", CENTRE, "B区 7–10号窗口"),
    _m("hf-loan", "住房公积金贷款申请", "hf", "ZFGJJDKSQ", ["GJJ", "DK"],
       ["连续足额缴存住房公积金满6个月", "购买本市自住住房", "个人信用良好"],
       [("居民身份证及户口簿", "原件及复印件"), ("婚姻状况证明", "原件"),
        ("购房合同及首付款凭证", "原件及复印件"), ("收入证明", "原件")],
       "不收费", "10个工作日", CENTRE, "B区 7–10号窗口"),
    _m("hf-repay", "公积金贷款还款明细查询", "hf", "GJJDKHKMXCX", ["GJJ", "HKMX"],
       ["已办理住房公积金贷款的借款人"], [("居民身份证", "原件")],
       "不收费", "即时办结", CENTRE, "B区 7–10号窗口；或自助终端即时打印"),
    _m("tax-list", "个人所得税纳税清单（完税证明）开具", "tax", "GRSDSNSQD", ["GS", "WSZM", "NSQD"],
       ["在本市有个人所得税纳税记录的纳税人"], [("居民身份证", "原件")],
       "不收费", "即时办结", CENTRE, "C区 11–14号窗口；或自助终端即时打印"),
    _m("tax-annual", "个人所得税综合所得年度汇算", "tax", "GRSDSZHSDNDHS", ["GS", "HS", "NDHS"],
       ["取得综合所得且需要补税或申请退税的纳税人", "汇算期为次年3月1日至6月30日"],
       [("居民身份证", "原件"), ("专项附加扣除相关资料", "按实际情况提供"),
        ("本人银行卡（申请退税）", "原件")],
       "不收费", "即时受理，退税约15个工作日到账", CENTRE, "C区 11–14号窗口"),
    _m("tax-invoice", "代开增值税发票", "tax", "DKZZSFP", ["FP", "DKFP"],
       ["发生应税行为的自然人"], [("居民身份证", "原件"), ("合同或协议", "原件及复印件")],
       "按规定缴纳相关税费", "即时办结", CENTRE, "C区 11–14号窗口"),
    _m("re-query", "不动产登记查询结果打印", "re", "BDCDJCXJGDY", ["BDC", "WFZM", "CX"],
       ["权利人本人或其配偶", "有房产的群众可在窗口打印查询结果"],
       [("居民身份证", "原件"), ("结婚证（查询配偶名下）", "原件")],
       "不收费", "即时办结", "东莞市不动产登记中心（南城街道元美路8号）", "D区 15–20号窗口"),
    _m("re-transfer", "二手房转移登记", "re", "ESFZYDJ", ["BDC", "GH", "ZY"],
       ["买卖双方已签订存量房买卖合同", "已完成网签备案并缴清税费"],
       [("双方居民身份证", "原件"), ("不动产权证书", "原件"), ("存量房买卖合同", "原件"),
        ("完税凭证", "原件")],
       "登记费80元（住宅）", "5个工作日", "东莞市不动产登记中心（南城街道元美路8号）",
       "D区 15–20号窗口（须预约）"),
    _m("re-mortgage", "不动产抵押登记", "re", "BDCDYDJ", ["BDC", "DY"],
       ["已签订借款合同和抵押合同"],
       [("抵押人及抵押权人身份证明", "原件"), ("不动产权证书", "原件"), ("抵押合同", "原件")],
       "登记费80元（住宅）", "3个工作日", "东莞市不动产登记中心（南城街道元美路8号）",
       "D区 15–20号窗口（须预约）"),
    _m("hh-id", "居民身份证换领", "hh", "JMSFZHL", ["SFZ", "HZ"],
       ["身份证有效期届满前3个月内或已过期", "本市户籍居民"],
       [("原居民身份证", "原件"), ("户口簿", "原件")],
       "工本费20元", "20个工作日（可申请邮寄）", CENTRE, "E区 21–24号窗口"),
    _m("hh-residence", "居住证申领", "hh", "JZZSL", ["JZZ"],
       ["在本市居住半年以上", "有合法稳定就业、住所或连续就读"],
       [("居民身份证", "原件"), ("居住登记凭证", "原件"), ("就业或就读证明", "原件")],
       "首次申领免费", "10个工作日", CENTRE, "E区 21–24号窗口"),
    _m("hh-move", "户口迁入（投靠）", "hh", "HKQRTK", ["HK", "QR"],
       ["夫妻投靠、子女投靠父母或父母投靠子女", "被投靠人为本市户籍"],
       [("双方居民身份证及户口簿", "原件"), ("关系证明（结婚证、出生证明等）", "原件")],
       "不收费", "20个工作日", CENTRE, "E区 21–24号窗口"),
]


def catalog(version: int = 3, updated_at: str = "2026-01-05") -> dict[str, Any]:
    return {"version": version, "updated_at": updated_at, "categories": CATEGORIES,
            "matters": MATTERS}
