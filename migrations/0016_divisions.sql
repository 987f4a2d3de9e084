-- Administrative divisions (行政区划), province → city → county, by GB/T 2260 code: every intake belongs to
-- one county-level unit, and users see and review by division (属地管理, 逐级审核). Liaoning is shipped here
-- (GB/T 2260 codes as published in the National Bureau of Statistics' 统计用区划代码, through the MIT-licensed
-- china-division 2.7.0 data); more provinces: `intake divisions import FILE` (docs/REGISTRY.md).
-- Development zones (开发区) are county-level units under their city with codes of our own scheme: the
-- city's four digits and 71-79 (as the statistical codes number 开发区), kind 'zone'.
CREATE TABLE divisions (
    code        text PRIMARY KEY CHECK (code ~ '^[1-9][0-9]{5}$'),
    name        text NOT NULL,
    short_name  text,                       -- what forms often write: 喀左县 for 喀喇沁左翼蒙古族自治县
    level       text NOT NULL CHECK (level IN ('province', 'city', 'county')),
    parent_code text REFERENCES divisions,
    kind        text NOT NULL DEFAULT 'gb2260' CHECK (kind IN ('gb2260', 'zone')),
    CHECK ((level = 'province') = (parent_code IS NULL)),
    -- the code says the level and the parent (so a division's scope is a prefix of the code)
    CHECK (level <> 'province' OR code ~ '0000$'),
    CHECK (level <> 'city' OR (code ~ '00$' AND code !~ '0000$' AND parent_code = left(code, 2) || '0000')),
    CHECK (level <> 'county' OR (code !~ '00$' AND parent_code = left(code, 4) || '00'))
);
COMMENT ON TABLE divisions IS 'administrative divisions by GB/T 2260 code (development zones: our scheme, kind zone)';

-- How a division is named to people: a county-level unit after its city (朝阳市北票市), else itself.
CREATE FUNCTION division_label(division text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN d.level = 'county' THEN coalesce(c.name, '') ELSE '' END || d.name
    FROM divisions d LEFT JOIN divisions c ON c.code = d.parent_code WHERE d.code = division
$$;

INSERT INTO divisions (code, name, short_name, level, parent_code, kind) VALUES
    ('210000', '辽宁省', NULL, 'province', NULL, 'gb2260'),
    ('210100', '沈阳市', NULL, 'city', '210000', 'gb2260'),
    ('210200', '大连市', NULL, 'city', '210000', 'gb2260'),
    ('210300', '鞍山市', NULL, 'city', '210000', 'gb2260'),
    ('210400', '抚顺市', NULL, 'city', '210000', 'gb2260'),
    ('210500', '本溪市', NULL, 'city', '210000', 'gb2260'),
    ('210600', '丹东市', NULL, 'city', '210000', 'gb2260'),
    ('210700', '锦州市', NULL, 'city', '210000', 'gb2260'),
    ('210800', '营口市', NULL, 'city', '210000', 'gb2260'),
    ('210900', '阜新市', NULL, 'city', '210000', 'gb2260'),
    ('211000', '辽阳市', NULL, 'city', '210000', 'gb2260'),
    ('211100', '盘锦市', NULL, 'city', '210000', 'gb2260'),
    ('211200', '铁岭市', NULL, 'city', '210000', 'gb2260'),
    ('211300', '朝阳市', NULL, 'city', '210000', 'gb2260'),
    ('211400', '葫芦岛市', NULL, 'city', '210000', 'gb2260'),
    ('210102', '和平区', NULL, 'county', '210100', 'gb2260'),
    ('210103', '沈河区', NULL, 'county', '210100', 'gb2260'),
    ('210104', '大东区', NULL, 'county', '210100', 'gb2260'),
    ('210105', '皇姑区', NULL, 'county', '210100', 'gb2260'),
    ('210106', '铁西区', NULL, 'county', '210100', 'gb2260'),
    ('210111', '苏家屯区', NULL, 'county', '210100', 'gb2260'),
    ('210112', '浑南区', NULL, 'county', '210100', 'gb2260'),
    ('210113', '沈北新区', NULL, 'county', '210100', 'gb2260'),
    ('210114', '于洪区', NULL, 'county', '210100', 'gb2260'),
    ('210115', '辽中区', NULL, 'county', '210100', 'gb2260'),
    ('210123', '康平县', NULL, 'county', '210100', 'gb2260'),
    ('210124', '法库县', NULL, 'county', '210100', 'gb2260'),
    ('210181', '新民市', NULL, 'county', '210100', 'gb2260'),
    ('210202', '中山区', NULL, 'county', '210200', 'gb2260'),
    ('210203', '西岗区', NULL, 'county', '210200', 'gb2260'),
    ('210204', '沙河口区', NULL, 'county', '210200', 'gb2260'),
    ('210211', '甘井子区', NULL, 'county', '210200', 'gb2260'),
    ('210212', '旅顺口区', NULL, 'county', '210200', 'gb2260'),
    ('210213', '金州区', NULL, 'county', '210200', 'gb2260'),
    ('210214', '普兰店区', NULL, 'county', '210200', 'gb2260'),
    ('210224', '长海县', NULL, 'county', '210200', 'gb2260'),
    ('210281', '瓦房店市', NULL, 'county', '210200', 'gb2260'),
    ('210283', '庄河市', NULL, 'county', '210200', 'gb2260'),
    ('210302', '铁东区', NULL, 'county', '210300', 'gb2260'),
    ('210303', '铁西区', NULL, 'county', '210300', 'gb2260'),
    ('210304', '立山区', NULL, 'county', '210300', 'gb2260'),
    ('210311', '千山区', NULL, 'county', '210300', 'gb2260'),
    ('210321', '台安县', NULL, 'county', '210300', 'gb2260'),
    ('210323', '岫岩满族自治县', '岫岩县', 'county', '210300', 'gb2260'),
    ('210381', '海城市', NULL, 'county', '210300', 'gb2260'),
    ('210402', '新抚区', NULL, 'county', '210400', 'gb2260'),
    ('210403', '东洲区', NULL, 'county', '210400', 'gb2260'),
    ('210404', '望花区', NULL, 'county', '210400', 'gb2260'),
    ('210411', '顺城区', NULL, 'county', '210400', 'gb2260'),
    ('210421', '抚顺县', NULL, 'county', '210400', 'gb2260'),
    ('210422', '新宾满族自治县', '新宾县', 'county', '210400', 'gb2260'),
    ('210423', '清原满族自治县', '清原县', 'county', '210400', 'gb2260'),
    ('210502', '平山区', NULL, 'county', '210500', 'gb2260'),
    ('210503', '溪湖区', NULL, 'county', '210500', 'gb2260'),
    ('210504', '明山区', NULL, 'county', '210500', 'gb2260'),
    ('210505', '南芬区', NULL, 'county', '210500', 'gb2260'),
    ('210521', '本溪满族自治县', '本溪县', 'county', '210500', 'gb2260'),
    ('210522', '桓仁满族自治县', '桓仁县', 'county', '210500', 'gb2260'),
    ('210602', '元宝区', NULL, 'county', '210600', 'gb2260'),
    ('210603', '振兴区', NULL, 'county', '210600', 'gb2260'),
    ('210604', '振安区', NULL, 'county', '210600', 'gb2260'),
    ('210624', '宽甸满族自治县', '宽甸县', 'county', '210600', 'gb2260'),
    ('210681', '东港市', NULL, 'county', '210600', 'gb2260'),
    ('210682', '凤城市', NULL, 'county', '210600', 'gb2260'),
    ('210702', '古塔区', NULL, 'county', '210700', 'gb2260'),
    ('210703', '凌河区', NULL, 'county', '210700', 'gb2260'),
    ('210711', '太和区', NULL, 'county', '210700', 'gb2260'),
    ('210726', '黑山县', NULL, 'county', '210700', 'gb2260'),
    ('210727', '义县', NULL, 'county', '210700', 'gb2260'),
    ('210781', '凌海市', NULL, 'county', '210700', 'gb2260'),
    ('210782', '北镇市', NULL, 'county', '210700', 'gb2260'),
    ('210802', '站前区', NULL, 'county', '210800', 'gb2260'),
    ('210803', '西市区', NULL, 'county', '210800', 'gb2260'),
    ('210804', '鲅鱼圈区', NULL, 'county', '210800', 'gb2260'),
    ('210811', '老边区', NULL, 'county', '210800', 'gb2260'),
    ('210881', '盖州市', NULL, 'county', '210800', 'gb2260'),
    ('210882', '大石桥市', NULL, 'county', '210800', 'gb2260'),
    ('210902', '海州区', NULL, 'county', '210900', 'gb2260'),
    ('210903', '新邱区', NULL, 'county', '210900', 'gb2260'),
    ('210904', '太平区', NULL, 'county', '210900', 'gb2260'),
    ('210905', '清河门区', NULL, 'county', '210900', 'gb2260'),
    ('210911', '细河区', NULL, 'county', '210900', 'gb2260'),
    ('210921', '阜新蒙古族自治县', '阜新县', 'county', '210900', 'gb2260'),
    ('210922', '彰武县', NULL, 'county', '210900', 'gb2260'),
    ('211002', '白塔区', NULL, 'county', '211000', 'gb2260'),
    ('211003', '文圣区', NULL, 'county', '211000', 'gb2260'),
    ('211004', '宏伟区', NULL, 'county', '211000', 'gb2260'),
    ('211005', '弓长岭区', NULL, 'county', '211000', 'gb2260'),
    ('211011', '太子河区', NULL, 'county', '211000', 'gb2260'),
    ('211021', '辽阳县', NULL, 'county', '211000', 'gb2260'),
    ('211081', '灯塔市', NULL, 'county', '211000', 'gb2260'),
    ('211102', '双台子区', NULL, 'county', '211100', 'gb2260'),
    ('211103', '兴隆台区', NULL, 'county', '211100', 'gb2260'),
    ('211104', '大洼区', NULL, 'county', '211100', 'gb2260'),
    ('211122', '盘山县', NULL, 'county', '211100', 'gb2260'),
    ('211202', '银州区', NULL, 'county', '211200', 'gb2260'),
    ('211204', '清河区', NULL, 'county', '211200', 'gb2260'),
    ('211221', '铁岭县', NULL, 'county', '211200', 'gb2260'),
    ('211223', '西丰县', NULL, 'county', '211200', 'gb2260'),
    ('211224', '昌图县', NULL, 'county', '211200', 'gb2260'),
    ('211281', '调兵山市', NULL, 'county', '211200', 'gb2260'),
    ('211282', '开原市', NULL, 'county', '211200', 'gb2260'),
    ('211302', '双塔区', NULL, 'county', '211300', 'gb2260'),
    ('211303', '龙城区', NULL, 'county', '211300', 'gb2260'),
    ('211321', '朝阳县', NULL, 'county', '211300', 'gb2260'),
    ('211322', '建平县', NULL, 'county', '211300', 'gb2260'),
    ('211324', '喀喇沁左翼蒙古族自治县', '喀左县', 'county', '211300', 'gb2260'),
    ('211381', '北票市', NULL, 'county', '211300', 'gb2260'),
    ('211382', '凌源市', NULL, 'county', '211300', 'gb2260'),
    ('211402', '连山区', NULL, 'county', '211400', 'gb2260'),
    ('211403', '龙港区', NULL, 'county', '211400', 'gb2260'),
    ('211404', '南票区', NULL, 'county', '211400', 'gb2260'),
    ('211421', '绥中县', NULL, 'county', '211400', 'gb2260'),
    ('211422', '建昌县', NULL, 'county', '211400', 'gb2260'),
    ('211481', '兴城市', NULL, 'county', '211400', 'gb2260'),
    ('211371', '朝阳经济技术开发区', '朝阳经开区', 'county', '211300', 'zone'),
    ('211372', '朝阳高新技术产业开发区', '朝阳高新区', 'county', '211300', 'zone');

-- Intakes reference their county-level unit. Existing intakes get it where their county's name (or short
-- form) names exactly one county-level unit; the rest keep their county text, are listed by
-- `intake divisions unmapped`, and are seen only by users of all divisions until an import maps them.
ALTER TABLE intakes ADD COLUMN division_code text REFERENCES divisions;
UPDATE intakes i SET division_code = d.code
FROM (SELECT n.name, min(n.code) AS code FROM (
          SELECT code, name FROM divisions WHERE level = 'county'
          UNION ALL SELECT code, short_name FROM divisions WHERE level = 'county' AND short_name IS NOT NULL
      ) n GROUP BY n.name HAVING count(DISTINCT n.code) = 1) d
WHERE d.name = i.county;
CREATE INDEX intakes_division ON intakes (division_code text_pattern_ops);

GRANT SELECT ON divisions TO intake_collector, intake_monitor, intake_api, intake_reader;

